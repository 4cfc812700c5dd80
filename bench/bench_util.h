// Timing shared by the benchmarks: the median wall time of a repeated call.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace rd::bench {

// Runs fn once to warm up, then `reps` times; the median in milliseconds.
inline double median_ms(int reps, const std::function<void()>& fn) {
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto a = std::chrono::steady_clock::now();
    fn();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace rd::bench
