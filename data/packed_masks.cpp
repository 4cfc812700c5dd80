#include "data/packed_masks.h"

#include "common/error.h"
#include "data/mask_reason.h"
#include "data/png_label.h"
#include "data/raw_sem_seg.h"

namespace rd {
namespace {
torch::Tensor to_tensor(std::vector<uint8_t> v, int64_t h, int64_t w) {
  auto* owned = new std::vector<uint8_t>(std::move(v));
  return torch::from_blob(owned->data(), {h, w}, [owned](void*) { delete owned; }, torch::kUInt8);
}
}  // namespace

torch::Tensor packed_reason_mask(const ReasonSegRecord& rec) {
  std::vector<LabelMeShape> shapes;
  for (const auto& s : rec.shapes) shapes.push_back({s.label, s.points});
  return to_tensor(reason_seg_mask(shapes, rec.image.height, rec.image.width).mask, rec.image.height,
                   rec.image.width);
}

torch::Tensor packed_annotation_mask(const CocoAnnotation& ann, const ImageRef& image) {
  return to_tensor(segmentation_mask(ann.segmentation, image.height, image.width), image.height, image.width);
}

torch::Tensor packed_label_map(const SemSegRecord& rec, const PackReader& store) {
  // PackReader::blob verified the bytes' checksum.
  const LabelMap raw = decode_label_png(store.blob(rec.label_key), store.dir() + " " + rec.label_key,
                                        /*bytes_verified=*/true);
  READ_CHECK(raw.height == rec.image.height && raw.width == rec.image.width, store.dir(), " ",
             rec.label_key, ": label map size differs from the image's");
  return to_tensor(remap_labels(raw, label_remap_from_manifest(store.manifest()), rec.label_key),
                   raw.height, raw.width);
}

}  // namespace rd
