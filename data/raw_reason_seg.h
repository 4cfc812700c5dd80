// ReasonSeg: D/reason_seg/ReasonSeg/<split>/*.jpg, each with a sibling
// LabelMe .json (UTF-8, else cp1252 as the reference retries): shapes,
// text, is_sentence, optional false_premise_QA. One record per image, sorted
// by path (the reference's glob order is the file system's).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/raw_common.h"

namespace rd {

std::vector<std::string> reason_seg_splits(const std::string& root);  // folders present
std::unique_ptr<RawSource> open_reason_seg(const std::string& root, const std::string& split);

// Parses one LabelMe json (bytes) into a record's annotation fields; throws
// rd::Error naming `what` on malformed content.
void parse_reason_seg_json(const std::string& bytes, const std::string& what, ReasonSegRecord& rec);

}  // namespace rd
