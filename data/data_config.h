// The `data:` section of a training configuration (configs/*.yaml), read
// strictly (common/config_reader.h): unknown keys, wrong types, unknown
// families and (unless only planning) missing packed datasets or template
// files are errors naming the key. The trainer's TrainConfig and
// `read_pack preview` share this one parser.
#pragma once
#include <string>
#include <vector>

#include "common/config_reader.h"
#include "data/train_loader.h"

namespace rd {

struct MixtureEntry {
  std::string family;
  double ratio = 0;
  std::vector<std::string> datasets;  // packed dataset names (split "train")
};

struct DataSection {
  std::string packed_dir;
  std::vector<MixtureEntry> mixture;
  std::string templates;
  int64_t num_classes_per_sample = 3;
  double sem_seg_denial = 0.07, sem_seg_correction = 0.08, reason_seg_false_premise = 0.15;
  std::string val_dataset = "ReasonSeg";  // packed name; split "val"
  int64_t val_samples = 200;
  int64_t workers = 2, prefetch = 4;
  bool dct_scaled_decode = true;  // TrainLoaderConfig::dct_scaled_decode (false: reference-exact pixels)

  // Reads the `data:` mapping of `r`'s YAML. Paths (packed_dir, templates,
  // every mixture dataset under packed_dir/<name>/train) are checked to exist
  // unless check_paths is false (the trainer's --plan).
  static DataSection read(ConfigReader r, bool check_paths = true);

  // Loads only the `data:` section of a YAML file: other top-level sections
  // are ignored, unknown keys inside `data:` are errors.
  static DataSection load(const std::string& yaml_path, const std::vector<std::string>& overrides = {},
                          bool check_paths = true);
};

// The loader settings that come from the data section (mixture, stores,
// templates, sampling options, workers) and the seed; the caller fills in
// what depends on the model (image sizes, text budget) and the ranks.
TrainLoaderConfig loader_config(const DataSection& data, uint64_t seed);

}  // namespace rd
