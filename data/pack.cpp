#include "data/pack.h"

#include <chrono>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "common/logging.h"
#include "data/lmdb_store.h"
#include "data/raw_coco_parts.h"
#include "data/raw_llava_vqa.h"
#include "data/raw_reason_seg.h"
#include "data/raw_refer_seg.h"
#include "data/raw_sem_seg.h"

namespace rd {
namespace fs = std::filesystem;

const std::vector<DatasetSpec>& pack_datasets() {
  static const std::vector<DatasetSpec> k = [] {
    std::vector<DatasetSpec> v;
    auto train_only = [](const std::string&) { return std::vector<std::string>{"train"}; };
    v.push_back({"ReasonSeg", "reason_seg",
                 [](const std::string& r) { return !reason_seg_splits(r).empty(); },
                 reason_seg_splits, open_reason_seg});
    for (const auto& info : refer_datasets()) {
      v.push_back({info.name, info.family,
                   [info](const std::string& r) {
                     return fs::exists(fs::path(r) / "refer_seg" / info.name / "instances.json");
                   },
                   [](const std::string&) { return refer_splits(); },
                   [info](const std::string& r, const std::string& s) { return open_refer_seg(r, info, s); }});
    }
    for (const char* name : {"ade20k", "cocostuff", "mapillary"}) {
      const std::string n = name;
      v.push_back({n, "sem_seg", [n](const std::string& r) { return sem_seg_present(r, n); }, train_only,
                   [n](const std::string& r, const std::string& s) { return open_sem_seg(r, n, s); }});
    }
    for (const char* name : {"paco_lvis", "pascal_part"}) {
      const std::string n = name;
      v.push_back({n, "sem_seg", [n](const std::string& r) { return coco_parts_present(r, n); }, train_only,
                   [n](const std::string& r, const std::string& s) { return open_coco_parts(r, n, s); }});
    }
    v.push_back({"llava_instruct_150k", "vqa", llava_vqa_present, train_only, open_llava_vqa});
    return v;
  }();
  return k;
}

const DatasetSpec& find_pack_dataset(const std::string& name) {
  std::string names;
  for (const auto& d : pack_datasets()) {
    if (d.name == name) return d;
    names += (names.empty() ? "" : ", ") + d.name;
  }
  fail("unknown dataset '", name, "' (known: ", names, ")");
}

size_t PackReport::num_bad() const {
  size_t n = 0;
  for (const auto& s : skipped) n += s.bad;
  return n;
}

std::string pack_dir(const std::string& out, const std::string& dataset, const std::string& split) {
  return (fs::path(out) / dataset / split).string();
}

PackReport pack_dataset(const DatasetSpec& ds, const std::string& split, const PackOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  PackReport report;
  report.dataset = ds.name, report.split = split;
  report.dir = pack_dir(options.out, ds.name, split);
  READ_CHECK(!options.root.empty() && fs::is_directory(options.root), "dataset root '", options.root,
             "' is not a directory");
  std::unique_ptr<RawSource> source = ds.open(options.root, split);
  PackWriterOptions wo;
  wo.overwrite = options.overwrite;
  PackWriter writer(report.dir, source->kind(), wo);
  BuildContext ctx(options.root, &writer);
  Progress progress("pack " + ds.name + "/" + split, static_cast<long long>(source->size()));
  for (size_t i = 0; i < source->size(); ++i) {
    std::string left_out;
    std::optional<BuiltItem> item;
    try {
      item = source->build(i, ctx, &left_out);
    } catch (const Error& e) {
      if (!options.skip_bad)
        fail(ds.name, "/", split, ": bad input in ", source->item_name(i), ": ", e.what(),
             " (pass --skip-bad to leave such items out)");
      report.skipped.push_back({source->item_name(i), e.what(), true});
    }
    if (item) {
      for (const auto& [key, bytes] : item->blobs) writer.put_blob(key, bytes);
      writer.put_record(item->record);
      if (options.on_record) options.on_record(writer.num_records());
    } else if (!left_out.empty()) {
      report.skipped.push_back({source->item_name(i), left_out, false});
    }
    if (options.progress) progress.add();
  }
  nlohmann::json manifest = source->manifest();
  manifest["dataset"] = ds.name;
  manifest["family"] = ds.family;
  manifest["split"] = split;
  manifest["root"] = fs::absolute(options.root).lexically_normal().string();
  manifest["counts"]["source_items"] = source->size();
  manifest["counts"]["skipped_bad"] = report.num_bad();
  manifest["counts"]["left_out"] = report.skipped.size() - report.num_bad();
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& s : report.skipped) skipped.push_back({{"item", s.item}, {"reason", s.reason}, {"bad_input", s.bad}});
  manifest["skipped"] = skipped;
  report.manifest = writer.commit(manifest);
  report.records = writer.num_records();
  if (options.progress) progress.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

std::string skip_summary(const PackReport& report, size_t max_lines) {
  std::ostringstream os;
  const size_t bad = report.num_bad();
  os << report.dataset << "/" << report.split << ": " << report.records << " records";
  if (report.skipped.empty()) return os.str() + ", nothing skipped";
  os << ", skipped " << report.skipped.size() << " item" << (report.skipped.size() == 1 ? "" : "s")
     << " (" << bad << " bad input, " << report.skipped.size() - bad << " left out by design):";
  size_t n = 0;
  for (const auto& s : report.skipped) {
    if (n++ == max_lines) {
      os << "\n  ... and " << report.skipped.size() - max_lines << " more (see " << report.dir
         << "/manifest.json)";
      break;
    }
    os << "\n  [" << (s.bad ? "bad input" : "left out") << "] " << s.item << ": " << s.reason;
  }
  return os.str();
}

}  // namespace rd
