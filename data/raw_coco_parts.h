// Part-level COCO-format datasets of READ's sem_seg family:
//   paco_lvis    D/vlpart/paco/annotations/paco_lvis_v1_train.json, images D/coco/<file_name>
//   pascal_part  D/vlpart/pascal_part/train.json,
//                images D/vlpart/pascal_part/VOCdevkit/VOC2010/JPEGImages/<file_name>
// Category names are "obj" or "obj:part"; each component is cut at its first
// "_(" (drops LVIS disambiguators: car_(automobile):wheel -> car, wheel);
// other underscores stay (dining_table). One record per image (json order)
// with its annotations (json order); an image without annotations is left
// out (the reference re-draws: problems.json "paco_image_without_annotations").
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/raw_common.h"

namespace rd {

struct PartClass {
  int64_t id = 0;
  std::string raw_name, obj, part;  // part empty for whole objects
};
// Applies the name rules; throws rd::Error on more than one ':'.
PartClass part_class(int64_t id, const std::string& raw_name, const std::string& what);

bool coco_parts_present(const std::string& root, const std::string& dataset);
std::unique_ptr<RawSource> open_coco_parts(const std::string& root, const std::string& dataset,
                                           const std::string& split);

}  // namespace rd
