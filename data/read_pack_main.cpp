// read_pack: packs the raw public datasets into LMDB (one environment per
// dataset and split under --out). See data/pack.h for what is packed and how
// bad input is handled.
//
//   read_pack all --root D --out packed/            every dataset found under D
//   read_pack <dataset> --root D [--split S] --out packed/
//   read_pack list --root D                         datasets found and their splits
//   read_pack verify packed/<dataset>/<split>       re-read and check every entry
#include <gflags/gflags.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/logging.h"
#include "data/lmdb_store.h"
#include "data/pack.h"

DEFINE_string(root, "", "dataset root D (the folder holding reason_seg/, refer_seg/, coco/, ...)");
DEFINE_string(out, "packed", "output folder: <out>/<dataset>/<split>/ per environment");
DEFINE_string(split, "", "split to pack (default: every split of the dataset)");
DEFINE_bool(skip_bad, false, "leave out bad input items (listed at the end) instead of failing");
DEFINE_bool(overwrite, false, "replace environments that already exist");

namespace {

const char* kUsage =
    "read_pack: raw READ datasets -> LMDB\n"
    "\n"
    "  read_pack all --root D --out packed/              pack every dataset found under D\n"
    "  read_pack <dataset> --root D [--split S] --out packed/\n"
    "  read_pack list --root D                           datasets found under D, with splits\n"
    "  read_pack verify <environment folder>...          check every record and blob\n"
    "\n"
    "Flags: --root, --out, --split, --skip-bad, --overwrite, --help.\n"
    "Bad input (unreadable or truncated image, malformed JSON, a ref pointing to a\n"
    "missing annotation, a polygon with < 3 points, ...) stops the run naming the file\n"
    "and the reason; --skip-bad leaves such items out and prints what was skipped and why.\n"
    "An interrupted run leaves no environment behind (each is renamed into place when\n"
    "complete).";

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
  // Subcommands; anything else is a dataset name. ("preview" is reserved for
  // the sample previewer.)
  const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands = {
      {"all", cmd_all}, {"list", cmd_list}, {"verify", cmd_verify}};
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
