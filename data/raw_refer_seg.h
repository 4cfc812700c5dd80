// The refCOCO family: D/refer_seg/<dataset>/instances.json (COCO images,
// annotations, categories) + refs(<splitBy>).p (a Python pickle of ref
// dicts, read with checkpoints/formats/pickle.h). One record per image with
// refs in the split: every sentence of those refs (ref order) and every
// annotation they point to.
//
// Split filter as refer.py's getRefIds: train/val exact, test = substring
// "test", testA/testB/testC = that letter in the ref's split. A split with
// no refs packs as an EMPTY environment (the reference crashes building its
// index: problems.json "refer_empty_split"). Images are ordered by image id
// (the reference's list(set(ids)) order is CPython-internal).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/raw_common.h"

namespace rd {

struct ReferDatasetInfo {
  std::string name;      // refcoco, refcoco+, refcocog, refclef, R-refcoco..., fprefcoco...
  std::string split_by;  // unc, unc_exclude_unified, umd_exclude_unified, berkeley_exclude_unified
  std::string family;    // refer_seg, neg_refer_seg (R-), correct_refer_seg (fp)
};
const std::vector<ReferDatasetInfo>& refer_datasets();
const std::vector<std::string>& refer_splits();  // train val test testA testB testC

bool refer_split_matches(const std::string& wanted, const std::string& ref_split);
std::unique_ptr<RawSource> open_refer_seg(const std::string& root, const ReferDatasetInfo& ds,
                                          const std::string& split);

}  // namespace rd
