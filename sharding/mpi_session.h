// MpiSession: MPI_Init/MPI_Finalize for a program's lifetime (RAII), and the
// rule that one failing rank ends the whole job instead of hanging it:
//  - an exception escaping main (std::terminate) calls MPI_Abort;
//  - run(fn) catches an exception from fn, logs it and calls MPI_Abort; a
//    non-zero return from fn aborts too (peers may be inside a collective);
//  - a session destroyed during stack unwinding aborts instead of finalising
//    (MPI_Finalize would wait for peers blocked in a collective).
// A dead rank is handled by mpirun (it kills the job); a hung rank by the
// communicators' collective watchdog (sharding/watchdog.h).
//
//   int main(int argc, char** argv) {
//     rd::MpiSession mpi(&argc, &argv);
//     return mpi.run([&] { ...; return 0; });
//   }
#pragma once
#include <functional>
#include <string>

namespace rd {

class MpiSession {
 public:
  // Initialises MPI (MPI_THREAD_FUNNELED) unless it is already initialised,
  // in which case this session neither initialises nor finalises.
  MpiSession(int* argc, char*** argv);
  MpiSession() : MpiSession(nullptr, nullptr) {}
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  // Rank among the processes on this host (for picking a GPU).
  int local_rank() const { return local_rank_; }
  // Processes of this job on this host (to share its cores).
  int local_size() const { return local_size_; }

  // Runs fn; on an exception or a non-zero result the whole job is aborted
  // with that code (1 for an exception). Returns fn's 0.
  int run(const std::function<int()>& fn);

 private:
  bool owns_ = false;
  int rank_ = 0, world_size_ = 1, local_rank_ = 0, local_size_ = 1;
};

// Logs `why` and ends every rank of the job with `code` (MPI_Abort).
[[noreturn]] void abort_job(const std::string& why, int code = 1);

}  // namespace rd
