#include "common/logging.h"

#include <chrono>
#include <cstdio>

namespace rd {
namespace {
std::string g_prefix;

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string format_duration(double s) {
  char buf[32];
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}
}  // namespace

void init_logging(const char* argv0, int rank, int world_size) {
  static bool done = false;
  if (done) return;
  done = true;
  google::InitGoogleLogging(argv0);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = rank == 0 ? google::GLOG_INFO : google::GLOG_WARNING;
  if (world_size > 1) g_prefix = "[rank " + std::to_string(rank) + "] ";
}

const std::string& rank_prefix() { return g_prefix; }

Progress::Progress(std::string what, long long total, double every_seconds)
    : what_(std::move(what)), total_(total), every_(every_seconds) {
  start_ = last_ = now_seconds();
}

void Progress::add(long long n) {
  done_ += n;
  if (now_seconds() - last_ >= every_) print(false);
}

void Progress::finish() { print(true); }

void Progress::print(bool final_line) {
  double t = now_seconds();
  last_ = t;
  double rate = done_ / std::max(t - start_, 1e-9);
  std::string eta = (total_ > 0 && rate > 0 && !final_line)
                        ? ", ETA " + format_duration((total_ - done_) / rate)
                        : ", " + format_duration(t - start_);
  LOG(INFO) << g_prefix << what_ << ": " << done_
            << (total_ > 0 ? "/" + std::to_string(total_) : std::string())
            << " (" << static_cast<long long>(rate) << "/s" << eta << ")";
}

}  // namespace rd
