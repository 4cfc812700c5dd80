#include "data/train_loader.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/logging.h"
#include "data/conversation.h"
#include "data/exif_orientation.h"
#include "data/buffer_cache.h"
#include "data/jpeg_decode.h"

namespace rd {
namespace fs = std::filesystem;

SampleSource::SampleSource(const TrainLoaderConfig& config, TextEncoder encoder)
    : config_(config),
      encoder_(std::move(encoder)),
      sampler_(config.mixture, config.seed),
      templates_(TemplateSet::load(config.templates_path)) {
  for (const auto& f : config_.mixture)
    for (const auto& ds : f.datasets)
      if (!stores_.count(ds)) {
        fs::path dir = fs::path(config_.packed_dir) / ds / "train";
        READ_CHECK(fs::exists(dir), "no packed dataset ", dir.string(), " (run read_pack)");
        stores_[ds] = std::make_unique<PackReader>(dir.string());
        READ_CHECK(stores_[ds]->size() > 0, dir.string(), ": packed dataset is empty");
      }
}

const PackReader& SampleSource::store(const std::string& dataset) const { return *stores_.at(dataset); }

DecoratedSample SampleSource::decorate(int64_t epoch, int64_t index) const {
  SampleDraw d = sampler_.draw(epoch, index);
  const FamilySpec& family = sampler_.families()[d.family];
  const PackReader& st = *stores_.at(family.datasets[d.dataset]);
  SampleRng rng = sampler_.sample_rng(d);
  const int64_t item = rng.below(static_cast<int64_t>(st.size()));
  return build_sample(family.name, st, item, rng, templates_, config_.sample);
}

LoadedSample SampleSource::load(int64_t epoch, int64_t index) const {
  LoadedSample out;
  out.sample = decorate(epoch, index);
  const SampleDraw d = sampler_.draw(epoch, index);
  const PackReader& st = *stores_.at(sampler_.families()[d.family].datasets[d.dataset]);
  // Drop conversations too long for the text budget (never cut a [SEG]).
  const int64_t limit = max_text_tokens(config_.text);
  DecoratedSample& s = out.sample;
  DecoratedSample kept = s;
  kept.conversations.clear(), kept.masks.clear(), kept.exists.clear(), kept.premise.clear();
  for (size_t i = 0, m = 0; i < s.conversations.size(); ++i) {
    bool has_mask = s.exists[i];
    std::vector<int64_t> ids = encoder_.encode_with_image(replace_image_tokens(s.conversations[i]));
    const int64_t len = static_cast<int64_t>(ids.size());
    if (len <= limit) {
      kept.conversations.push_back(s.conversations[i]);
      kept.exists.push_back(s.exists[i]);
      kept.premise.push_back(s.premise[i]);
      if (has_mask) kept.masks.push_back(s.masks[m]);
      out.input_ids.push_back(std::move(ids));
    } else {
      LOG_FIRST_N(WARNING, 5) << rank_prefix() << "dropping a conversation of " << len << " tokens (budget "
                              << limit << ") from " << s.dataset << " sample " << index;
    }
    m += has_mask;
  }
  READ_CHECK(!kept.conversations.empty(), s.dataset, ": every conversation of sample ", index,
             " exceeds the text budget of ", limit, " tokens");
  s = std::move(kept);

  std::string bytes = st.blob(s.image.key);
  DecodeOptions opt;
  opt.apply_exif_orientation = false;  // the record says which orientation the annotations use
  // Decision (issue 4: "use DCT scaling when the target is much smaller"):
  // a JPEG at least twice as large as both targets (long side >= 2 x SAM's
  // 1024, short side >= 2 x CLIP's 336) is decoded at 1/2, 1/4 or 1/8 scale by
  // libjpeg-turbo's IDCT, never below the targets, and both branches then
  // resample from it to the sizes the full image gives (sam_resize and
  // clip_resize_crop take the original size). The pixels differ from the
  // reference's full decode + antialiased resize by about the difference
  // between two good downscalers; masks, sizes and sam_mask_shape are
  // unchanged. data.dct_scaled_decode: false gives the reference's pixels.
  if (config_.dct_scaled_decode) {
    opt.min_long_side = config_.sam.target_length;
    opt.min_short_side = config_.clip.shortest_edge;
  }
  DecodedImage im = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                 st.dir() + ":" + s.image.key, opt);
  int orig_h = im.orig_height, orig_w = im.orig_width;  // stored orientation, full resolution
  if (orientation_swaps_axes(s.image.orientation)) std::swap(orig_h, orig_w);
  RgbImage rgb = apply_exif_orientation(std::move(im.image), s.image.orientation);
  READ_CHECK(orig_h == s.image.height && orig_w == s.image.width, st.dir(), ":", s.image.key, ": decoded ",
             orig_h, "x", orig_w, " but the record says ", s.image.height, "x", s.image.width);
  // Decision: the SAM input of an image none of whose rows has a [SEG] (VQA,
  // denials, corrections, false premises) is never read -- READ encodes with
  // SAM only the images with a [SEG] (model/read_model.cpp; the reference
  // encodes all and uses none of those embeddings) -- so it is not resized;
  // collate() writes zeros in its place. Its sam_mask_shape is still stored.
  const bool has_seg = std::any_of(out.input_ids.begin(), out.input_ids.end(), [&](const auto& ids) {
    return std::find(ids.begin(), ids.end(), encoder_.seg_id) != ids.end();
  });
  const auto [sam_h, sam_w] = sam_resized_size(orig_h, orig_w, config_.sam.target_length);
  if (has_seg) out.sam_resized = sam_resize(rgb, config_.sam, orig_h, orig_w);
  // spec 8.9: the original size is always (H, W) of the image.
  out.shape = SamMaskShape{sam_h, sam_w, orig_h, orig_w};
  out.clip_cropped = clip_resize_crop(rgb, config_.clip, orig_h, orig_w);
  return out;
}

// f32 [M, H, W] ground truth of one image. When every conversation is about
// the same target (a ReasonSeg image's sentences share one mask tensor, see
// sample_builder.cpp), the mask is converted once and expanded along M
// (stride 0): one H x W float copy instead of M, which at original size is
// the largest write of the loader (3 x 13.5 MB for a 2250x1500 image).
// ReadBatch::to keeps the expansion when moving to a device.
torch::Tensor collate_masks(const std::vector<torch::Tensor>& masks, int64_t height, int64_t width) {
  const int64_t m = static_cast<int64_t>(masks.size());
  const bool shared = m > 1 && std::all_of(masks.begin(), masks.end(),
                                           [&](const torch::Tensor& t) { return t.is_same(masks[0]); });
  torch::Tensor out = cached_empty({shared ? 1 : m, height, width}, torch::kFloat32);
  for (int64_t k = 0; k < out.size(0); ++k) out[k].copy_(masks[k]);
  return shared ? out.expand({m, height, width}) : out;
}

ReadBatch SampleSource::collate(std::vector<LoadedSample>&& samples) const {
  READ_CHECK(!samples.empty(), "collate: no samples");
  ReadBatch b;
  const int64_t n = static_cast<int64_t>(samples.size()), T = config_.sam.target_length;
  // Normalised straight into the batch tensors (no per-sample float copies).
  b.images = cached_empty({n, 3, T, T}, torch::kFloat32);
  b.images_clip = cached_empty({n, 3, samples[0].clip_cropped.height, samples[0].clip_cropped.width},
                               torch::kFloat32);
  std::vector<std::string> conversations;
  std::vector<std::vector<int64_t>> ids;
  std::vector<int64_t> offset{0};
  for (int64_t i = 0; i < n; ++i) {
    LoadedSample& s = samples[i];
    if (s.sam_resized.empty())
      b.images[i].zero_();  // no [SEG]: never read (see load())
    else
      sam_normalize_pad_into(s.sam_resized, config_.sam, b.images[i]);
    clip_normalize_into(s.clip_cropped, config_.clip, b.images_clip[i]);
    for (size_t c = 0; c < s.sample.conversations.size(); ++c) {
      conversations.push_back(std::move(s.sample.conversations[c]));
      ids.push_back(std::move(s.input_ids[c]));
    }
    offset.push_back(conversations.size());
    b.masks_list.push_back(collate_masks(s.sample.masks, s.shape.height, s.shape.width));
    // Decision (spec 8.9): the SAM size is stored for every sample, masks or not.
    b.sam_mask_shape_list.push_back(s.shape);
    b.exists.push_back(s.sample.exists);
  }
  TextBatch t = collate_text(conversations, std::move(ids), encoder_, config_.text);
  b.input_ids = t.input_ids;
  b.labels = t.labels;
  b.attention_masks = t.attention_masks;
  b.offset = torch::tensor(offset, torch::kInt64);
  return b;
}

SamplerState TrainLoader::state_at(SamplerState start, int64_t k, int64_t micro_batch, int world,
                                   int64_t samples_per_epoch) {
  const int64_t stride = micro_batch * world;
  if (samples_per_epoch <= 0) return {start.epoch, start.cursor + k * stride};
  READ_CHECK(samples_per_epoch % stride == 0, "samples_per_epoch ", samples_per_epoch,
             " is not a multiple of micro_batch x world = ", stride);
  const int64_t total = start.cursor + k * stride;
  return {start.epoch + total / samples_per_epoch, total % samples_per_epoch};
}

TrainLoader::TrainLoader(const TrainLoaderConfig& config, TextEncoder encoder, SamplerState start)
    : config_(config), start_(start), source_(std::make_unique<SampleSource>(config, std::move(encoder))) {
  PrefetchOptions opt;
  opt.num_workers = config.workers;
  opt.max_in_flight = config.prefetch;
  slots_.resize(opt.max_in_flight);
  scheduler_ = std::make_unique<PrefetchScheduler>(
      [this](int64_t k, int slot) {
        SamplerState s = state_at(start_, k, config_.micro_batch, config_.world, config_.samples_per_epoch);
        std::vector<LoadedSample> samples;
        for (int64_t idx : MixtureSampler::rank_indices(s.cursor, config_.micro_batch, config_.rank, config_.world))
          samples.push_back(source_->load(s.epoch, idx));
        slots_[slot] = source_->collate(std::move(samples));
      },
      opt);
}

TrainLoader::~TrainLoader() { scheduler_->stop(); }

ReadBatch TrainLoader::next() {
  int64_t k;
  int slot;
  READ_CHECK(scheduler_->acquire(&k, &slot), "train loader stopped");
  ReadBatch b = std::move(slots_[slot]);
  scheduler_->release(slot);
  ++consumed_;
  return b;
}

SamplerState TrainLoader::state() const {
  return state_at(start_, consumed_, config_.micro_batch, config_.world, config_.samples_per_epoch);
}

}  // namespace rd
