// The training input pipeline of one rank: mixture sampler -> decorated
// samples from the packed LMDB stores -> decoded, preprocessed images ->
// tokenised, collated micro-batches (rd::ReadBatch), produced ahead of time
// by worker threads (data/prefetch_loader.h) with bounded memory.
//
// Micro-step k of this rank covers the global sample indices
// MixtureSampler::rank_indices(cursor_k, micro_batch, rank, world), so the
// stream depends only on (seed, SamplerState) and never on the number of
// workers, and resuming from a saved SamplerState continues it exactly.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/read_batch.h"
#include "data/clip_preprocess.h"
#include "data/lmdb_store.h"
#include "data/mixture_sampler.h"
#include "data/prefetch_loader.h"
#include "data/sam_preprocess.h"
#include "data/sample_builder.h"
#include "data/text_collate.h"

namespace rd {

struct TrainLoaderConfig {
  std::string packed_dir;
  std::vector<FamilySpec> mixture;  // datasets = packed dataset names (split "train")
  std::string templates_path;
  SampleOptions sample;
  SamPreprocessConfig sam;
  ClipPreprocessConfig clip;
  TextCollateOptions text;
  uint64_t seed = 42;
  int64_t micro_batch = 2;
  int rank = 0, world = 1;
  int64_t samples_per_epoch = 0;  // multiple of micro_batch * world
  int workers = 2, prefetch = 4;
  // libjpeg-turbo DCT scaling when the image is at least twice the targets
  // (see SampleSource::load); false decodes every image at full resolution.
  bool dct_scaled_decode = true;
};

// One decoded, preprocessed sample (what a worker makes before collation).
// The images stay uint8 (SAM-resized, CLIP-cropped) until collate() normalises
// them straight into the batch tensors: no copy of a 12 MB SAM input.
struct LoadedSample {
  DecoratedSample sample;
  RgbImage sam_resized;   // SAM branch after its resize (normalised + padded by collate); empty without [SEG]
  RgbImage clip_cropped;  // CLIP branch after its resize + crop (normalised by collate)
  SamMaskShape shape;
  std::vector<std::vector<int64_t>> input_ids;  // per conversation, from the text budget check
};

// The f32 [M, H, W] ground-truth masks of one image (u8 {0,1} [H, W] each);
// M copies of one tensor become one copy expanded along M (stride 0).
torch::Tensor collate_masks(const std::vector<torch::Tensor>& masks, int64_t height, int64_t width);

// Builds, decodes and preprocesses global sample `index` of `epoch`.
// Conversations too long for the text budget are dropped with their masks
// (so collation never cuts a [SEG]; spec/data.md 5.5).
class SampleSource {
 public:
  SampleSource(const TrainLoaderConfig& config, TextEncoder encoder);
  // The draw (family, dataset, record) and decoration of global sample
  // `index`, before the text budget and the images (also read_pack preview).
  DecoratedSample decorate(int64_t epoch, int64_t index) const;
  LoadedSample load(int64_t epoch, int64_t index) const;
  ReadBatch collate(std::vector<LoadedSample>&& samples) const;
  const MixtureSampler& sampler() const { return sampler_; }
  const PackReader& store(const std::string& dataset) const;

 private:
  TrainLoaderConfig config_;
  TextEncoder encoder_;
  MixtureSampler sampler_;
  TemplateSet templates_;
  std::map<std::string, std::unique_ptr<PackReader>> stores_;
};

class TrainLoader {
 public:
  TrainLoader(const TrainLoaderConfig& config, TextEncoder encoder, SamplerState start = {});
  ~TrainLoader();

  ReadBatch next();              // this rank's next micro-batch
  SamplerState state() const;    // the state after the batches returned so far (to checkpoint)
  const SampleSource& source() const { return *source_; }

  // The sampler state at micro-step k after `start` (every rank advances the
  // global cursor by micro_batch * world per micro-step).
  static SamplerState state_at(SamplerState start, int64_t k, int64_t micro_batch, int world,
                               int64_t samples_per_epoch);

 private:
  TrainLoaderConfig config_;
  SamplerState start_;
  int64_t consumed_ = 0;
  std::unique_ptr<SampleSource> source_;
  std::vector<ReadBatch> slots_;
  std::unique_ptr<PrefetchScheduler> scheduler_;
};

}  // namespace rd
