// `read_pack preview`: the first N samples of an epoch exactly as the
// training loader draws and decorates them (SampleSource::decorate, the code
// path of data/train_loader.h), printed as rendered llava_v1 conversations
// with their origin, premise modes and masks, followed by each family's share
// of the N draws against its configured ratio. Lets users check a mix before
// spending GPU hours.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "data/data_config.h"

namespace rd {

struct PreviewOptions {
  int64_t n = 10;       // samples: global indices 0..n-1 of `epoch`
  uint64_t seed = 42;   // the trainer's train.seed
  int64_t epoch = 0;
  bool print_samples = true;  // false: only the shares
};

struct FamilyShare {
  std::string family;
  double configured = 0;                    // normalised ratio
  int64_t drawn = 0;                        // draws of this family among the n
  std::vector<int64_t> drawn_per_dataset;   // in the mixture's dataset order
};

// Prints the preview to `out` and returns the shares it printed (mixture order).
std::vector<FamilyShare> preview_samples(const DataSection& data, const PreviewOptions& options,
                                         std::ostream& out);

}  // namespace rd
