#include "data/data_config.h"

#include <filesystem>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

DataSection DataSection::read(ConfigReader r, bool check) {
  DataSection d;
  d.packed_dir = r.path("packed_dir", check);
  for (ConfigReader e : r.items("mixture")) {
    MixtureEntry m;
    m.family = e.required<std::string>("family");
    e.check_one_of("family", m.family,
                   {"sem_seg", "refer_seg", "neg_refer_seg", "correct_refer_seg", "vqa", "reason_seg"});
    m.ratio = e.required<double>("ratio");
    READ_CHECK(m.ratio >= 0, e.source(), ": key '", e.path_of("ratio"), "' must be >= 0");
    m.datasets = e.required<std::vector<std::string>>("datasets");
    READ_CHECK(!m.datasets.empty(), e.source(), ": key '", e.path_of("datasets"), "' is empty");
    for (const auto& ds : m.datasets)
      READ_CHECK(!check || fs::exists(fs::path(d.packed_dir) / ds / "train"), e.source(), ": ",
                 e.path_of("datasets"), ": no packed dataset '", ds, "' under ", d.packed_dir,
                 " (run read_pack first)");
    d.mixture.push_back(m);
  }
  READ_CHECK(!d.mixture.empty(), r.source(), ": data.mixture is empty");
  double total = 0;
  for (const auto& m : d.mixture) total += m.ratio;
  READ_CHECK(total > 0, r.source(), ": data.mixture: every ratio is 0");
  d.templates = r.path("templates", check);
  d.num_classes_per_sample = r.get("num_classes_per_sample", d.num_classes_per_sample);
  r.check_positive("num_classes_per_sample", d.num_classes_per_sample);
  d.sem_seg_denial = r.get("sem_seg_denial", d.sem_seg_denial);
  d.sem_seg_correction = r.get("sem_seg_correction", d.sem_seg_correction);
  d.reason_seg_false_premise = r.get("reason_seg_false_premise", d.reason_seg_false_premise);
  for (auto [k, p] : {std::pair{"sem_seg_denial", d.sem_seg_denial}, {"sem_seg_correction", d.sem_seg_correction},
                      {"reason_seg_false_premise", d.reason_seg_false_premise}})
    READ_CHECK(p >= 0 && p <= 1, r.source(), ": key '", r.path_of(k), "' is a probability, got ", p);
  READ_CHECK(d.sem_seg_denial + d.sem_seg_correction <= 1, r.source(), ": ", r.path_of("sem_seg_denial"),
             " + sem_seg_correction exceed 1");
  d.val_dataset = r.get("val_dataset", d.val_dataset);
  d.val_samples = r.get("val_samples", d.val_samples);
  d.workers = r.get("workers", d.workers);
  d.prefetch = r.get("prefetch", d.prefetch);
  READ_CHECK(d.workers >= 0, r.source(), ": key '", r.path_of("workers"), "' must be >= 0");
  d.dct_scaled_decode = r.get("dct_scaled_decode", d.dct_scaled_decode);
  r.check_positive("prefetch", d.prefetch);
  return d;
}

DataSection DataSection::load(const std::string& path, const std::vector<std::string>& overrides,
                              bool check_paths) {
  return read_config_section(path, overrides, "data", [&](ConfigReader& r) { return read(r, check_paths); });
}

TrainLoaderConfig loader_config(const DataSection& d, uint64_t seed) {
  TrainLoaderConfig l;
  l.packed_dir = d.packed_dir;
  for (const auto& e : d.mixture) l.mixture.push_back({e.family, e.ratio, e.datasets});
  l.templates_path = d.templates;
  l.sample.num_classes_per_sample = d.num_classes_per_sample;
  l.sample.sem_seg_denial = d.sem_seg_denial;
  l.sample.sem_seg_correction = d.sem_seg_correction;
  l.sample.reason_seg_false_premise = d.reason_seg_false_premise;
  l.seed = seed;
  l.workers = static_cast<int>(d.workers);
  l.prefetch = static_cast<int>(d.prefetch);
  l.dct_scaled_decode = d.dct_scaled_decode;
  return l;
}

}  // namespace rd
