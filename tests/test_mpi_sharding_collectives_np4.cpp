// The communicator collectives on 4 rank(s) (body shared by the np1/np2/np4 runs).
#include "tests/mpi_sharding_collectives_tests.h"
