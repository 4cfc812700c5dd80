// Masks of packed records, for the sampler/loader. All are uint8 [H, W] at
// the record's image size (record.image.height x width).
#pragma once
#include <torch/torch.h>

#include "data/lmdb_store.h"
#include "data/records.h"

namespace rd {

// ReasonSeg: {0 background, 1 target, 255 ignore} (get_mask_from_json).
torch::Tensor packed_reason_mask(const ReasonSegRecord& rec);
// COCO annotation (refer_seg / PACO / PASCAL-Part): {0, 1}, union of parts.
torch::Tensor packed_annotation_mask(const CocoAnnotation& ann, const ImageRef& image);
// Label-map datasets: class ids after the dataset's remap, 255 = ignore.
torch::Tensor packed_label_map(const SemSegRecord& rec, const PackReader& store);

}  // namespace rd
