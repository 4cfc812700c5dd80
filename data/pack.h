// The packer: raw dataset layouts under a root D -> one LMDB environment per
// dataset and split (lmdb_store.h). Bad input (unreadable or truncated image,
// malformed JSON, a ref pointing to a missing annotation, a polygon with < 3
// points, ...) fails with the file and the reason; with skip_bad such items
// are left out and listed (item, reason) in the report and the manifest.
// Items the reference itself never samples (an image without annotations, a
// label map without any class) are left out in both modes and listed too.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/raw_common.h"

namespace rd {

struct DatasetSpec {
  std::string name;
  std::string family;  // sem_seg, refer_seg, neg_refer_seg, correct_refer_seg, vqa, reason_seg
  std::function<bool(const std::string& root)> present;
  std::function<std::vector<std::string>(const std::string& root)> splits;  // packed by default
  std::function<std::unique_ptr<RawSource>(const std::string& root, const std::string& split)> open;
};

const std::vector<DatasetSpec>& pack_datasets();
const DatasetSpec& find_pack_dataset(const std::string& name);  // throws, listing the names

struct PackOptions {
  std::string root, out;
  bool skip_bad = false;
  bool overwrite = false;
  bool progress = true;
  // Called after each record is stored (tests inject failures here).
  std::function<void(size_t records_written)> on_record;
};

struct SkippedItem {
  std::string item, reason;
  bool bad = false;  // bad input (only skipped with skip_bad) vs. left out by design
};

struct PackReport {
  std::string dataset, split, dir;
  size_t records = 0;
  std::vector<SkippedItem> skipped;
  nlohmann::json manifest;
  double seconds = 0;
  size_t num_bad() const;
};

std::string pack_dir(const std::string& out, const std::string& dataset, const std::string& split);
PackReport pack_dataset(const DatasetSpec& ds, const std::string& split, const PackOptions& options);
// "skipped 3 items (2 bad input, 1 left out by design):\n  <item>: <reason>\n..."
std::string skip_summary(const PackReport& report, size_t max_lines = 50);

}  // namespace rd
