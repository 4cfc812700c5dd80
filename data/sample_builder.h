// Building one decorated sample from a packed record (spec/data.md 2):
// choosing classes / sentences / texts, the premise mode, the templates, and
// the ground-truth masks. Every random choice comes from the sample's own
// SampleRng, so a sample is a pure function of (seed, epoch, index).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/lmdb_store.h"
#include "data/records.h"
#include "data/sample_rng.h"
#include "data/templates.h"

namespace rd {

struct SampleOptions {
  int64_t num_classes_per_sample = 3;
  // sem_seg premise modes (true premise gets the rest): denial, correction.
  double sem_seg_denial = 0.07, sem_seg_correction = 0.08;
  double reason_seg_false_premise = 0.15;
};

struct DecoratedSample {
  std::string family, dataset;
  int64_t record = -1;                     // index of the packed record in its store
  ImageRef image;                          // blob key + size + orientation
  std::vector<std::string> conversations;  // rendered llava_v1, "<image>" not yet replaced
  std::vector<torch::Tensor> masks;        // u8 [H, W] {0,1}: one per conversation with [SEG]
  std::vector<bool> exists;                // one per conversation
  // One per conversation, how it was decorated: "true" (premise holds, answer
  // with [SEG]), "denial" (negative answer), "correction" (correction answer),
  // "false" (ReasonSeg false_premise_QA, its own answer), "vqa".
  std::vector<std::string> premise;
};

// `family` is the sampler family the draw came from (sem_seg, refer_seg,
// neg_refer_seg, correct_refer_seg, vqa, reason_seg): it decides how a
// non-existing referring sentence is answered (correction vs denial).
DecoratedSample build_sample(const std::string& family, const PackReader& store, int64_t item,
                             SampleRng& rng, const TemplateSet& templates, const SampleOptions& options);

// How many items a packed dataset offers for sampling (records; sem_seg label
// maps without any class are left out at packing).
inline int64_t sample_pool_size(const PackReader& store) { return static_cast<int64_t>(store.size()); }

}  // namespace rd
