#include "data/sample_rng.h"

#include "common/error.h"

namespace rd {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

SampleRng::SampleRng(uint64_t seed, int64_t epoch, int64_t index, uint64_t stream) {
  uint64_t h = mix64(seed);
  h = mix64(h ^ static_cast<uint64_t>(epoch));
  h = mix64(h ^ static_cast<uint64_t>(index));
  h = mix64(h ^ stream);
  for (auto& s : s_) s = h = mix64(h);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t SampleRng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double SampleRng::uniform() { return (next() >> 11) * 0x1.0p-53; }

int64_t SampleRng::below(int64_t n) {
  READ_CHECK(n > 0, "SampleRng::below(", n, ")");
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;  // reject the biased tail
  uint64_t x;
  do x = next();
  while (x >= limit);
  return static_cast<int64_t>(x % un);
}

std::vector<int64_t> SampleRng::select(int64_t pool_size, int64_t k) {
  std::vector<int64_t> idx(pool_size);
  std::iota(idx.begin(), idx.end(), 0);
  if (pool_size <= k) return idx;
  for (int64_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + below(pool_size - i)]);  // partial Fisher-Yates
  idx.resize(k);
  return idx;
}

}  // namespace rd
