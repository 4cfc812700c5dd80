// For tests/test_mpi_*_npN.cpp (run under mpirun): initialises MPI once for
// the gtest program and gives the tests a world communicator whose
// collectives time out after 60 s, so a test that desynchronises the ranks
// fails the job instead of hanging it.
#pragma once
#include <gtest/gtest.h>

#include <memory>

#include "sharding/mpi_communicator.h"
#include "sharding/mpi_session.h"

namespace rd::testing {

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { session() = std::make_unique<MpiSession>(); }
  void TearDown() override {
    world_ptr().reset();
    session().reset();
  }
  static MpiCommunicator& world() {
    if (!world_ptr()) world_ptr() = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, 60.0);
    return *world_ptr();
  }

 private:
  static std::unique_ptr<MpiSession>& session() {
    static std::unique_ptr<MpiSession> s;
    return s;
  }
  static std::unique_ptr<MpiCommunicator>& world_ptr() {
    static std::unique_ptr<MpiCommunicator> c;
    return c;
  }
};

inline ::testing::Environment* const mpi_environment =
    ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

}  // namespace rd::testing
