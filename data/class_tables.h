// Class tables the reference ships in its own repository (not in the dataset
// root): ADE20K's 150 names and COCO-Stuff's 182. Mapillary's come from the
// dataset's config_v2.0.json.
#pragma once
#include <string>
#include <vector>

namespace rd {

const std::vector<std::string>& ade20k_classes();
const std::vector<std::string>& cocostuff_classes();

}  // namespace rd
