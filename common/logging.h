// Logging set up once per program (glog). Under MPI, rank 0 logs INFO; every
// rank logs WARNING and ERROR, each line prefixed with "[rank R]".
#pragma once
#include <glog/logging.h>

#include <string>

namespace rd {

// Call once from main(). rank/world_size come from the launcher (0/1 for
// single-process tools).
void init_logging(const char* argv0, int rank = 0, int world_size = 1);

// "[rank R] " under MPI (world_size > 1), "" otherwise.
const std::string& rank_prefix();

// A single progress line on long work: "what: done/total (rate/s, ETA 1m02s)".
class Progress {
 public:
  Progress(std::string what, long long total, double every_seconds = 2.0);
  void add(long long n = 1);  // prints at most every `every_seconds`
  void finish();              // final line with the totals
 private:
  void print(bool final_line);
  std::string what_;
  long long total_, done_ = 0;
  double every_, start_, last_;
};

}  // namespace rd
