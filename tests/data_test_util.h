// Data-layer test helper: the first raw_datasets fixture packed (train
// splits) into a temporary folder, as read_pack all --skip-bad would.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/pack.h"
#include "tests/harness/fixtures.h"

namespace rd::testing {

// Packs into <tmp>/<name>_<pid>/packed; returns that folder's parent and
// fills family -> packed dataset names. Datasets the fixture marks as
// defective (their pack fails) are left out.
inline std::filesystem::path pack_fixture_train_splits(const std::string& name,
                                                       std::map<std::string, std::vector<std::string>>& families) {
  namespace fs = std::filesystem;
  auto cases = cases_of_kind("raw_datasets");
  if (cases.empty()) return {};
  const auto& c = cases.front();
  fs::path base = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
  fs::remove_all(base);
  PackOptions o;
  o.root = c.path(c.config().at("dataset_root").get<std::string>());
  o.out = (base / "packed").string();
  o.skip_bad = true;
  o.progress = false;
  for (const auto& ds : pack_datasets()) {
    if (!ds.present(o.root)) continue;
    try {
      if (pack_dataset(ds, "train", o).records > 0) families[ds.family].push_back(ds.name);
    } catch (const Error&) {
      fs::remove_all(pack_dir(o.out, ds.name, "train"));  // a dataset the fixture marks as defective
    }
  }
  return base;
}

}  // namespace rd::testing
