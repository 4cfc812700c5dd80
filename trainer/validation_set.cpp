#include "trainer/validation_set.h"

#include <filesystem>

#include "common/error.h"
#include "data/conversation.h"
#include "data/exif_orientation.h"
#include "data/jpeg_decode.h"
#include "data/packed_masks.h"
#include "trainer/model_factory.h"

namespace rd {
namespace fs = std::filesystem;

ValidationSet::ValidationSet(const TrainConfig& config, const ReadModelConfig& model, TextEncoder encoder)
    : loader_config_(train_loader_config(config, 0, 1, model)), encoder_(std::move(encoder)) {
  fs::path dir = fs::path(config.data.packed_dir) / config.data.val_dataset / "val";
  READ_CHECK(fs::exists(dir), "no packed validation set ", dir.string(), " (read_pack ", config.data.val_dataset,
             " --split val)");
  store_ = std::make_unique<PackReader>(dir.string());
  size_ = std::min<int64_t>(store_->size(), config.data.val_samples);
}

ValidationItem ValidationSet::get(int64_t i) const {
  ReasonSegRecord rec = store_->get_as<ReasonSegRecord>(static_cast<size_t>(i));
  READ_CHECK(!rec.texts.empty(), store_->dir(), ": record ", i, " has no query text");
  // The reference's evaluation templates (spec/data.md 2.1).
  const std::string& text = rec.texts[0];
  std::string question = rec.is_sentence ? text + " Please output segmentation mask."
                                         : "What is " + text + " in this image? Please output segmentation mask.";
  std::string conversation = render_single_turn(question, "Sure, the segmentation result is [SEG].");

  std::string bytes = store_->blob(rec.image.key);
  DecodeOptions opt;
  opt.apply_exif_orientation = false;
  DecodedImage im = decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), rec.image.key, opt);
  RgbImage rgb = apply_exif_orientation(std::move(im.image), rec.image.orientation);
  SamInput sam = sam_preprocess(rgb, loader_config_.sam);

  ValidationItem item;
  torch::Tensor gt = packed_reason_mask(rec);  // {0, 1, 255}: 255 stays ignore in evaluation
  item.ground_truth.push_back(gt);
  ReadBatch& b = item.batch;
  b.images = sam.pixel_values.unsqueeze(0);
  b.images_clip = clip_preprocess(rgb, loader_config_.clip).unsqueeze(0);
  TextBatch t = collate_text({conversation}, encoder_, loader_config_.text);
  b.input_ids = t.input_ids;
  b.labels = t.labels;
  b.attention_masks = t.attention_masks;
  b.offset = torch::tensor({int64_t(0), int64_t(1)});
  b.masks_list.push_back(gt.eq(1).to(torch::kFloat32).unsqueeze(0));
  b.sam_mask_shape_list.push_back(sam.mask_shape);
  b.exists.push_back({true});
  return item;
}

}  // namespace rd
