// LLaVA-Instruct-150k: D/llava_dataset/llava_instruct_150k.json, a list of
// {id, image (a COCO train2017 file name), conversations [{from, value}]};
// images D/coco/train2017/<image>. One record per item (json order) with the
// raw turns; the sampler rewrites <image> and drops a leading gpt turn.
#pragma once
#include <memory>
#include <string>

#include "data/raw_common.h"

namespace rd {

bool llava_vqa_present(const std::string& root);
std::unique_ptr<RawSource> open_llava_vqa(const std::string& root, const std::string& split);

}  // namespace rd
