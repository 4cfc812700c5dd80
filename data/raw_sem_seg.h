// Label-map semantic segmentation datasets (READ's sem_seg family):
//   ade20k     D/ade20k/images/training/*.jpg, labels .../annotations/training/*.png;
//              remap 0 -> 255, v -> v-1, 254 -> 255 (150 classes, table in the reference repo)
//   cocostuff  D/cocostuff/train2017/*.png, images D/coco/train2017/*.jpg; every class
//              whose name contains '-' -> 255 (182 classes, table in the reference repo)
//   mapillary  D/mapillary/training/v2.0/labels/*.png (palette indices = class ids),
//              images D/mapillary/training/images/*.jpg; names = config_v2.0.json labels
//              'readable', lowercased; no remap
// One record per image (sorted by path): the image and the label PNG bytes,
// and the classes present after the remap. A label map with no class left
// (all ignore) is left out: the reference re-draws on it. A label value with
// no class (after the remap, other than 255) is bad input: the reference's
// class lookup fails on it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/png_label.h"
#include "data/raw_common.h"

namespace rd {

struct LabelRemap {
  std::string rule;                   // "ade20k" | "cocostuff" | "identity"
  std::vector<std::string> classes;   // index = class id after the remap
  std::vector<int32_t> ignored;       // cocostuff: class ids mapped to 255
};

// Applies the remap to raw label values: uint8 [h*w] with class ids and 255.
// Throws rd::Error naming `what` for a value with no class.
std::vector<uint8_t> remap_labels(const LabelMap& raw, const LabelRemap& remap, const std::string& what);
// From a manifest's "label_remap" entry (see SemSegSource::manifest).
LabelRemap label_remap_from_manifest(const nlohmann::json& manifest);

bool sem_seg_present(const std::string& root, const std::string& dataset);
std::unique_ptr<RawSource> open_sem_seg(const std::string& root, const std::string& dataset,
                                        const std::string& split);

}  // namespace rd
