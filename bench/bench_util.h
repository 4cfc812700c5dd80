// Shared by the benchmarks: the median wall time of a repeated call, and
// where the reference fixtures are.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
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

// $READ_FIXTURES when set, else ../shared/fixtures (from the project root),
// as the tests take it.
inline std::string fixtures_dir() {
  const char* env = std::getenv("READ_FIXTURES");
  return env && *env ? env : "../shared/fixtures";
}

}  // namespace rd::bench
