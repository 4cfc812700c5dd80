// The ratio mixture of dataset families (spec/data.md 3), as a pure function
// of (seed, epoch, global sample index).
//
// One global sequence of samples per epoch; rank r of w with micro-batch m
// takes, at each micro-step, the m consecutive indices starting at
// cursor + r * m, and every rank advances the cursor by m * w. So 1, 2 or 4
// ranks with the same global batch see the same samples, and resuming needs
// only SamplerState {epoch, cursor}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/sample_rng.h"

namespace rd {

struct FamilySpec {
  std::string name;                  // sem_seg, refer_seg, ...
  double ratio = 0;                  // un-normalised weight
  std::vector<std::string> datasets; // sub-datasets, chosen uniformly (not by size)
};

struct SampleDraw {
  int64_t epoch = 0, index = 0;
  int family = 0, dataset = 0;
};

struct SamplerState {
  int64_t epoch = 0;
  int64_t cursor = 0;  // next unused global index of this epoch
};

class MixtureSampler {
 public:
  MixtureSampler(std::vector<FamilySpec> families, uint64_t seed);

  SampleDraw draw(int64_t epoch, int64_t index) const;
  // The random stream for everything inside the sample (items, templates).
  SampleRng sample_rng(const SampleDraw& d) const { return SampleRng(seed_, d.epoch, d.index, 1); }

  const std::vector<FamilySpec>& families() const { return families_; }
  std::vector<double> probabilities() const { return cumulative_to_probabilities(); }

  // The global indices rank `rank` of `world` consumes at a micro-step.
  static std::vector<int64_t> rank_indices(int64_t cursor, int64_t micro_batch, int rank, int world);
  // Advances the state past one micro-step of all ranks; wraps the epoch at
  // samples_per_epoch.
  static SamplerState advance(SamplerState s, int64_t micro_batch, int world, int64_t samples_per_epoch);

 private:
  std::vector<double> cumulative_to_probabilities() const;
  std::vector<FamilySpec> families_;
  std::vector<double> cumulative_;  // normalised cumulative ratios
  uint64_t seed_;
};

}  // namespace rd
