// CollectiveWatchdog: ends the process when a collective does not complete
// in time, so a rank that hangs (or waits for a peer that hangs) cannot stall
// a job forever. The process exits with kCollectiveTimeoutExitCode; mpirun
// then tears the whole job down (a non-zero exit aborts an Open MPI job), so
// the job ends non-zero instead of hanging. A dead peer needs no watchdog:
// mpirun kills the job when any rank dies.
//
// The watchdog thread never calls MPI (initialised MPI_THREAD_FUNNELED): it
// logs the stuck collective and calls std::_Exit.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace rd {

constexpr int kCollectiveTimeoutExitCode = 124;

class CollectiveWatchdog {
 public:
  // timeout_seconds <= 0 disables the watchdog (no thread).
  CollectiveWatchdog(double timeout_seconds, std::string who);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Armed while alive: the collective `what` (moving `bytes`) must finish
  // before the timeout.
  class Guard {
   public:
    Guard(CollectiveWatchdog& w, const char* what, int64_t bytes);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    CollectiveWatchdog& w_;
  };

  double timeout_seconds() const { return timeout_; }

 private:
  void run();
  using Clock = std::chrono::steady_clock;
  double timeout_;
  std::string who_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false, armed_ = false;
  Clock::time_point deadline_;
  const char* what_ = "";
  int64_t bytes_ = 0;
  std::thread thread_;
};

}  // namespace rd
