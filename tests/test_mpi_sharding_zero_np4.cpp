// ZeRO stages 0/1/2 on 4 rank(s) against single-process AdamW (body shared
// by the np1/np2/np4 runs).
#include "tests/mpi_sharding_zero_tests.h"
