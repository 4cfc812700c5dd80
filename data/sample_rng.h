// SampleRng: the random stream of one sample, a pure function of
// (seed, epoch, global sample index). No process-global random state: any
// rank can build any sample, and resuming needs only (epoch, index).
#pragma once
#include <cstdint>
#include <numeric>
#include <vector>

namespace rd {

class SampleRng {
 public:
  SampleRng(uint64_t seed, int64_t epoch, int64_t index, uint64_t stream = 0);

  uint64_t next();            // xoshiro256**
  double uniform();           // [0, 1)
  int64_t below(int64_t n);   // uniform in [0, n), n > 0 (unbiased)
  bool bernoulli(double p) { return uniform() < p; }

  // The reference's "select(k) from a pool" (spec/data.md intro): at least k
  // items -> k distinct uniformly in random order; else the whole pool in order.
  std::vector<int64_t> select(int64_t pool_size, int64_t k);

  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(static_cast<int64_t>(v.size()))]; }

 private:
  uint64_t s_[4];
};

// SplitMix64 finaliser: a good 64-bit mix used to derive seeds.
uint64_t mix64(uint64_t x);

}  // namespace rd
