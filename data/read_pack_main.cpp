// read_pack: packs the raw public datasets into LMDB (one environment per
// dataset and split under --out). See data/pack.h for what is packed and how
// bad input is handled.
//
//   read_pack all --root D --out packed/            every dataset found under D
//   read_pack <dataset> --root D [--split S] --out packed/
//   read_pack list --root D                         datasets found and their splits
//   read_pack verify packed/<dataset>/<split>       re-read and check every entry
//   read_pack preview --config CFG --n N [--seed S]  N samples as training sees them
#include <gflags/gflags.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/logging.h"
#include "common/config_reader.h"
#include "data/data_config.h"
#include "data/lmdb_store.h"
#include "data/pack.h"
#include "data/sample_preview.h"

DEFINE_string(root, "", "dataset root D (the folder holding reason_seg/, refer_seg/, coco/, ...)");
DEFINE_string(out, "packed", "output folder: <out>/<dataset>/<split>/ per environment");
DEFINE_string(split, "", "split to pack (default: every split of the dataset)");
DEFINE_bool(skip_bad, false, "leave out bad input items (listed at the end) instead of failing");
DEFINE_bool(overwrite, false, "replace environments that already exist");
DEFINE_string(config, "", "preview: a training config (only its data: section is read)");
DEFINE_int64(n, 10, "preview: number of samples");
DEFINE_int64(seed, -1, "preview: sampler seed (default: the config's train.seed, else 42)");
DEFINE_int64(epoch, 0, "preview: epoch whose first samples are shown");
DEFINE_bool(shares_only, false, "preview: print only the family shares (e.g. with --n 100000)");

namespace {

const char* kUsage =
    "read_pack: raw READ datasets -> LMDB\n"
    "\n"
    "  read_pack all --root D --out packed/              pack every dataset found under D\n"
    "  read_pack <dataset> --root D [--split S] --out packed/\n"
    "  read_pack list --root D                           datasets found under D, with splits\n"
    "  read_pack verify <environment folder>...          check every record and blob\n"
    "  read_pack preview --config CFG --n N [--seed S] [--epoch E] [--shares-only]\n"
    "\n"
    "Flags: --root, --out, --split, --skip-bad, --overwrite, --help.\n"
    "Bad input (unreadable or truncated image, malformed JSON, a ref pointing to a\n"
    "missing annotation, a polygon with < 3 points, ...) stops the run naming the file\n"
    "and the reason; --skip-bad leaves such items out and prints what was skipped and why.\n"
    "An interrupted run leaves no environment behind (each is renamed into place when\n"
    "complete).\n"
    "\n"
    "preview prints the first N samples of an epoch exactly as the training loader\n"
    "draws and decorates them from the packed data: for each, the family, dataset,\n"
    "record and image it came from, every rendered llava_v1 conversation (with the\n"
    "<image> placeholder) with its premise mode (true / denial / correction / false /\n"
    "vqa), and the number and sizes of its masks; then each family's share of the N\n"
    "draws against its configured ratio. CFG is a trainer config (configs/*.yaml):\n"
    "only its data: section is read (strictly: unknown keys there are errors), the\n"
    "seed defaults to its train.seed. Relative paths resolve against the current\n"
    "directory, then the config's folder.";

std::string dataset_names() {
  std::string s;
  for (const auto& d : rd::pack_datasets()) s += "  " + d.name + " (" + d.family + ")\n";
  return s;
}

int pack_one(const rd::DatasetSpec& ds, const std::vector<std::string>& splits, bool* any_bad) {
  rd::PackOptions o;
  o.root = FLAGS_root, o.out = FLAGS_out, o.skip_bad = FLAGS_skip_bad, o.overwrite = FLAGS_overwrite;
  for (const auto& split : splits) {
    rd::PackReport r = rd::pack_dataset(ds, split, o);
    std::cout << rd::skip_summary(r) << "\n  -> " << r.dir << " (" << r.seconds << " s)" << std::endl;
    if (r.num_bad() > 0) *any_bad = true;
  }
  return 0;
}

int cmd_dataset(const std::string& name, const std::vector<std::string>&) {
  READ_CHECK(!FLAGS_root.empty(), "--root is required");
  const rd::DatasetSpec& ds = rd::find_pack_dataset(name);
  READ_CHECK(ds.present(FLAGS_root), name, ": not found under ", FLAGS_root);
  bool bad = false;
  return pack_one(ds, FLAGS_split.empty() ? ds.splits(FLAGS_root) : std::vector<std::string>{FLAGS_split}, &bad);
}

int cmd_all(const std::vector<std::string>&) {
  READ_CHECK(!FLAGS_root.empty(), "--root is required");
  READ_CHECK(FLAGS_split.empty(), "--split applies to one dataset, not to 'all'");
  int failures = 0, packed = 0;
  bool bad = false;
  for (const auto& ds : rd::pack_datasets()) {
    if (!ds.present(FLAGS_root)) continue;
    try {
      pack_one(ds, ds.splits(FLAGS_root), &bad);
      ++packed;
    } catch (const rd::Error& e) {
      std::cerr << "FAILED " << ds.name << ": " << e.what() << std::endl;
      ++failures;
    }
  }
  std::cout << "packed " << packed << " dataset(s)"
            << (failures ? ", " + std::to_string(failures) + " failed" : std::string()) << std::endl;
  READ_CHECK(packed + failures > 0, "no dataset found under ", FLAGS_root, "; known datasets:\n", dataset_names());
  return failures ? 1 : 0;
}

int cmd_list(const std::vector<std::string>&) {
  READ_CHECK(!FLAGS_root.empty(), "--root is required");
  for (const auto& ds : rd::pack_datasets()) {
    if (!ds.present(FLAGS_root)) continue;
    std::cout << ds.name << " (" << ds.family << "):";
    for (const auto& s : ds.splits(FLAGS_root)) std::cout << " " << s;
    std::cout << "\n";
  }
  return 0;
}

int cmd_verify(const std::vector<std::string>& args) {
  READ_CHECK(!args.empty(), "verify: give one or more environment folders");
  for (const auto& dir : args) {
    rd::PackReader r(dir);
    r.verify();
    std::cout << dir << ": ok, " << r.size() << " records ("
              << r.manifest().value("dataset", "?") << "/" << r.manifest().value("split", "?") << ")\n";
  }
  return 0;
}

// The trainer's seed (train.seed) unless --seed is given: the preview then
// shows what training with this config sees first.
uint64_t preview_seed(const std::string& config) {
  if (FLAGS_seed >= 0) return static_cast<uint64_t>(FLAGS_seed);
  YAML::Node root = rd::load_yaml_file(config);
  if (root.IsMap() && root["train"] && root["train"].IsMap() && root["train"]["seed"]) {
    try {
      return root["train"]["seed"].as<uint64_t>();
    } catch (const YAML::Exception&) {
      rd::fail(config, ": key 'train.seed' expects an integer");
    }
  }
  return 42;
}

int cmd_preview(const std::vector<std::string>& args) {
  READ_CHECK(args.empty(), "preview: unexpected argument '", args.empty() ? "" : args[0], "'");
  READ_CHECK(!FLAGS_config.empty(), "preview: --config CFG is required (a trainer config, e.g. configs/tiny.yaml)");
  rd::DataSection data = rd::DataSection::load(FLAGS_config);
  rd::PreviewOptions o;
  o.n = FLAGS_n;
  o.seed = preview_seed(FLAGS_config);
  o.epoch = FLAGS_epoch;
  o.print_samples = !FLAGS_shares_only;
  rd::preview_samples(data, o, std::cout);
  return 0;
}

// gflags spells flags with '_': accept --skip-bad as well.
std::vector<std::string> normalise_flags(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      for (size_t k = 2; k < std::min(eq, a.size()); ++k)
        if (a[k] == '-') a[k] = '_';
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = normalise_flags(argc, argv);
  for (const auto& a : args)
    if (a == "--help" || a == "-h" || a == "help" || a == "--helpfull") {
      std::cout << kUsage << "\n\nDatasets:\n" << dataset_names();
      return 0;
    }
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  int cargc = static_cast<int>(cargv.size());
  char** p = cargv.data();
  gflags::SetUsageMessage(kUsage);
  gflags::ParseCommandLineFlags(&cargc, &p, /*remove_flags=*/true);
  rd::init_logging(argv[0]);
  std::vector<std::string> pos(p + 1, p + cargc);
  if (pos.empty()) {
    std::cerr << kUsage << std::endl;
    return 2;
  }
  const std::string cmd = pos[0];
  const std::vector<std::string> rest(pos.begin() + 1, pos.end());
  // Subcommands; anything else is a dataset name.
  const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
      {"all", cmd_all}, {"list", cmd_list}, {"verify", cmd_verify}, {"preview", cmd_preview}};
  try {
    auto it = commands.find(cmd);
    if (it != commands.end()) return it->second(rest);
    READ_CHECK(rest.empty(), "unexpected argument '", rest.empty() ? "" : rest[0], "'");
    return cmd_dataset(cmd, rest);
  } catch (const rd::Error& e) {
    std::cerr << "read_pack: " << e.what() << std::endl;
    return 1;
  }
}
