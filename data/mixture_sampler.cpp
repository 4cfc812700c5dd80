#include "data/mixture_sampler.h"

#include <algorithm>

#include "common/error.h"

namespace rd {

MixtureSampler::MixtureSampler(std::vector<FamilySpec> families, uint64_t seed)
    : families_(std::move(families)), seed_(seed) {
  READ_CHECK(!families_.empty(), "sampler: no dataset families");
  double total = 0;
  for (const auto& f : families_) {
    READ_CHECK(f.ratio >= 0, "sampler: family ", f.name, " has negative ratio ", f.ratio);
    READ_CHECK(f.ratio == 0 || !f.datasets.empty(), "sampler: family ", f.name, " has no datasets");
    total += f.ratio;
  }
  READ_CHECK(total > 0, "sampler: all ratios are zero");
  double acc = 0;
  for (const auto& f : families_) cumulative_.push_back(acc += f.ratio / total);
  cumulative_.back() = 1.0;
}

std::vector<double> MixtureSampler::cumulative_to_probabilities() const {
  std::vector<double> p;
  double prev = 0;
  for (double c : cumulative_) p.push_back(c - prev), prev = c;
  return p;
}

SampleDraw MixtureSampler::draw(int64_t epoch, int64_t index) const {
  SampleRng rng(seed_, epoch, index, 0);
  SampleDraw d;
  d.epoch = epoch;
  d.index = index;
  double u = rng.uniform();
  d.family = static_cast<int>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) -
                              cumulative_.begin());
  d.family = std::min<int>(d.family, static_cast<int>(families_.size()) - 1);
  while (families_[d.family].ratio == 0) d.family = (d.family + 1) % families_.size();  // u on a boundary
  d.dataset = static_cast<int>(rng.below(static_cast<int64_t>(families_[d.family].datasets.size())));
  return d;
}

std::vector<int64_t> MixtureSampler::rank_indices(int64_t cursor, int64_t micro_batch, int rank, int world) {
  READ_CHECK(rank >= 0 && rank < world, "sampler: rank ", rank, " of ", world);
  std::vector<int64_t> idx;
  for (int64_t j = 0; j < micro_batch; ++j) idx.push_back(cursor + rank * micro_batch + j);
  return idx;
}

SamplerState MixtureSampler::advance(SamplerState s, int64_t micro_batch, int world,
                                     int64_t samples_per_epoch) {
  s.cursor += micro_batch * world;
  if (samples_per_epoch > 0 && s.cursor >= samples_per_epoch) {
    ++s.epoch;
    s.cursor = 0;
  }
  return s;
}

}  // namespace rd
