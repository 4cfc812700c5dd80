#include "sharding/watchdog.h"

#include <cstdio>
#include <cstdlib>

#include "common/logging.h"

namespace rd {

CollectiveWatchdog::CollectiveWatchdog(double timeout_seconds, std::string who)
    : timeout_(timeout_seconds), who_(std::move(who)) {
  if (timeout_ > 0) thread_ = std::thread([this] { run(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

CollectiveWatchdog::Guard::Guard(CollectiveWatchdog& w, const char* what, int64_t bytes) : w_(w) {
  if (!w_.thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lk(w_.m_);
    w_.armed_ = true;
    w_.what_ = what;
    w_.bytes_ = bytes;
    w_.deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(w_.timeout_));
  }
  w_.cv_.notify_all();
}

CollectiveWatchdog::Guard::~Guard() {
  if (!w_.thread_.joinable()) return;
  std::lock_guard<std::mutex> lk(w_.m_);
  w_.armed_ = false;  // the thread notices at its next wake-up; no notify needed
}

void CollectiveWatchdog::run() {
  std::unique_lock<std::mutex> lk(m_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lk);
      continue;
    }
    cv_.wait_until(lk, deadline_);
    if (stop_ || !armed_ || Clock::now() < deadline_) continue;
    // Both glog and a raw write: glog may be uninitialised in small tools.
    LOG(ERROR) << who_ << ": collective " << what_ << " (" << bytes_
               << " bytes) did not complete within " << timeout_
               << " s: a peer rank failed or hangs; ending the job";
    google::FlushLogFiles(google::GLOG_INFO);
    std::fprintf(stderr, "%s: collective %s timed out after %g s; exiting with code %d\n",
                 who_.c_str(), what_, timeout_, kCollectiveTimeoutExitCode);
    std::fflush(stderr);
    std::_Exit(kCollectiveTimeoutExitCode);
  }
}

}  // namespace rd
