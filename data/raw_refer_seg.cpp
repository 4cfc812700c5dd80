#include "data/raw_refer_seg.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "checkpoints/formats/pickle.h"
#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

// Python 2 `str` values are raw bytes: UTF-8 in practice; anything else is
// taken as Latin-1 (the reference's ASCII default would crash on it).
std::string text_of(const pickle::Value& v, const std::string& what) {
  const std::string& s = v.as_str(what);
  return valid_utf8(s) ? s : latin1_to_utf8(s);
}

bool truthy(const pickle::Value& v, const std::string& what) {
  if (v.kind == pickle::Kind::Bool) return v.b;
  return v.as_int(what) != 0;
}

struct Ref {
  int64_t ref_id = 0, ann_id = 0, image_id = 0;
  std::vector<ReferSentence> sentences;
};

// One dataset's instances.json and refs pickle, parsed. Its splits are
// packed one after another and share them: the last dataset's tables are
// kept (refcoco's instances.json is ~40 MB of JSON, read once instead of once
// per split). The key includes both files' sizes and modification times.
struct ReferTables {
  std::map<int64_t, nlohmann::json> images, anns;
  std::map<int64_t, std::string> categories;
  pickle::Document refs;
};

std::shared_ptr<const ReferTables> refer_tables(BuildContext& ctx, const std::string& instances_rel,
                                                const std::string& refs_rel) {
  const std::string iw = ctx.path(instances_rel), rp = ctx.path(refs_rel);
  READ_CHECK(ctx.exists(refs_rel), rp, ": missing refs pickle");
  auto stamp = [](const std::string& p) {
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec).time_since_epoch().count();
    return p + "|" + std::to_string(fs::file_size(p, ec)) + "|" + std::to_string(t);
  };
  const std::string key = stamp(iw) + "|" + stamp(rp);
  static std::mutex mutex;
  static std::string last_key;
  static std::shared_ptr<const ReferTables> last;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (last && key == last_key) return last;
  }
  auto t = std::make_shared<ReferTables>();
  const nlohmann::json inst = parse_json_text(ctx.read(instances_rel), iw);
  for (const auto& im : json_at(inst, "images", iw)) t->images[json_int(im, "id", iw + " image")] = im;
  for (const auto& a : json_at(inst, "annotations", iw)) t->anns[json_int(a, "id", iw + " annotation")] = a;
  if (inst.contains("categories"))
    for (const auto& c : inst["categories"]) t->categories[json_int(c, "id", iw + " category")] = c.value("name", "");
  t->refs = pickle::read_file(rp);
  std::lock_guard<std::mutex> lock(mutex);
  last_key = key, last = t;
  return t;
}

class ReferSegSource : public RawSource {
 public:
  ReferSegSource(const std::string& root, ReferDatasetInfo ds, std::string split)
      : ds_(std::move(ds)), split_(std::move(split)) {
    const std::string dir = "refer_seg/" + ds_.name;
    instances_rel_ = dir + "/instances.json";
    refs_rel_ = dir + "/refs(" + ds_.split_by + ").p";
    BuildContext ctx(root, nullptr);
    tables_ = refer_tables(ctx, instances_rel_, refs_rel_);
    const std::string rp = ctx.path(refs_rel_);
    for (const pickle::Value* r : tables_->refs.root().as_list(rp + " (list of refs)")) {
      const std::string rw = rp + " ref";
      Ref ref;
      ref.ref_id = r->at("ref_id").as_int(rw + " ref_id");
      const std::string rs = rw + " " + std::to_string(ref.ref_id);
      if (!refer_split_matches(split_, text_of(r->at("split"), rs + " split"))) continue;
      ref.ann_id = r->at("ann_id").as_int(rs + " ann_id");
      ref.image_id = r->at("image_id").as_int(rs + " image_id");
      for (const pickle::Value* s : r->at("sentences").as_list(rs + " sentences")) {
        ReferSentence sent;
        sent.sent = text_of(s->at("sent"), rs + " sent");
        sent.sent_id = s->at("sent_id").as_int(rs + " sent_id");
        sent.ann_id = ref.ann_id, sent.ref_id = ref.ref_id;
        if (const auto* fp = s->get("is_false_premise"))
          sent.exists = !truthy(*fp, rs + " is_false_premise");
        else if (const auto* ex = s->get("exist"))
          sent.exists = truthy(*ex, rs + " exist");
        if (const auto* gt = s->get("gt_sent")) sent.gt_sent = text_of(*gt, rs + " gt_sent");
        ref.sentences.push_back(std::move(sent));
      }
      by_image_[ref.image_id].push_back(std::move(ref));
    }
    for (const auto& [id, refs] : by_image_) order_.push_back(id);  // ascending image id
  }

  RecordKind kind() const override { return RecordKind::kReferSeg; }
  size_t size() const override { return order_.size(); }
  std::string item_name(size_t i) const override {
    std::string name = refs_rel_ + " image " + std::to_string(order_[i]);
    auto im = tables_->images.find(order_[i]);
    if (im != tables_->images.end() && im->second.contains("file_name") && im->second["file_name"].is_string())
      name += " (" + image_rel(im->second["file_name"].get<std::string>()) + ")";
    return name;
  }
  std::string image_rel(const std::string& file) const {
    return ds_.name == "refclef" ? "refer_seg/images/saiapr_tc-12/" + file
                                 : "refer_seg/images/mscoco/images/train2014/" + file;
  }

  std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string*) override {
    const int64_t image_id = order_[i];
    const std::string what = ctx.path(refs_rel_) + " image " + std::to_string(image_id);
    auto im = tables_->images.find(image_id);
    READ_CHECK(im != tables_->images.end(), what, ": refs point to image ", image_id, ", which ",
               instances_rel_, " does not have");
    const std::string iw = ctx.path(instances_rel_) + " image " + std::to_string(image_id);
    const int64_t h = json_int(im->second, "height", iw), w = json_int(im->second, "width", iw);
    const std::string file = json_string(im->second, "file_name", iw);
    ReferSegRecord rec;
    rec.image_id = image_id;
    std::set<int64_t> seen;
    for (const Ref& ref : by_image_.at(image_id)) {
      auto a = tables_->anns.find(ref.ann_id);
      READ_CHECK(a != tables_->anns.end(), what, ": ref ", ref.ref_id, " points to annotation ", ref.ann_id,
                 ", which ", instances_rel_, " does not have");
      for (const auto& s : ref.sentences) rec.sentences.push_back(s);
      if (!seen.insert(ref.ann_id).second) continue;
      const std::string aw = ctx.path(instances_rel_) + " annotation " + std::to_string(ref.ann_id);
      CocoAnnotation ann;
      ann.id = ref.ann_id;
      ann.category_id = a->second.contains("category_id") ? json_int(a->second, "category_id", aw) : 0;
      ann.segmentation = parse_coco_segmentation(json_at(a->second, "segmentation", aw), h, w, aw);
      rec.annotations.push_back(std::move(ann));
    }
    const std::string img_rel = image_rel(file);
    BuiltItem out;
    rec.image = ctx.image_ref(img_rel, out.blobs, h, w);
    out.record = std::move(rec);
    return out;
  }

  nlohmann::json manifest() const override {
    nlohmann::json cats = nlohmann::json::array();
    for (const auto& [id, name] : tables_->categories) cats.push_back({{"id", id}, {"name", name}});
    size_t n_sent = 0;
    for (const auto& [id, refs] : by_image_)
      for (const auto& r : refs) n_sent += r.sentences.size();
    return {{"source", {{"instances", instances_rel_}, {"refs", refs_rel_}, {"split_by", ds_.split_by}}},
            {"categories", cats},
            {"split_filter", split_},
            {"counts_source", {{"images_with_refs", order_.size()}, {"sentences", n_sent}}}};
  }

 private:
  ReferDatasetInfo ds_;
  std::string split_, instances_rel_, refs_rel_;
  std::shared_ptr<const ReferTables> tables_;
  std::map<int64_t, std::vector<Ref>> by_image_;
  std::vector<int64_t> order_;
};

}  // namespace

const std::vector<ReferDatasetInfo>& refer_datasets() {
  static const std::vector<ReferDatasetInfo> k = {
      {"refclef", "unc", "refer_seg"},
      {"refcoco", "unc_exclude_unified", "refer_seg"},
      {"refcoco+", "unc_exclude_unified", "refer_seg"},
      {"refcocog", "umd_exclude_unified", "refer_seg"},
      {"R-refcoco", "unc_exclude_unified", "neg_refer_seg"},
      {"R-refcoco+", "unc_exclude_unified", "neg_refer_seg"},
      {"R-refcocog", "umd_exclude_unified", "neg_refer_seg"},
      {"fprefcoco", "berkeley_exclude_unified", "correct_refer_seg"},
      {"fprefcoco+", "berkeley_exclude_unified", "correct_refer_seg"},
      {"fprefcocog", "berkeley_exclude_unified", "correct_refer_seg"},
  };
  return k;
}

const std::vector<std::string>& refer_splits() {
  static const std::vector<std::string> k = {"train", "val", "test", "testA", "testB", "testC"};
  return k;
}

bool refer_split_matches(const std::string& wanted, const std::string& ref_split) {
  if (wanted == "testA" || wanted == "testB" || wanted == "testC")
    return ref_split.find(wanted.back()) != std::string::npos;
  if (wanted == "testAB" || wanted == "testBC" || wanted == "testAC") return ref_split == wanted;
  if (wanted == "test") return ref_split.find("test") != std::string::npos;
  if (wanted == "train" || wanted == "val") return ref_split == wanted;
  fail("unknown refer split '", wanted, "' (train, val, test, testA, testB, testC, testAB, testBC, testAC)");
}

std::unique_ptr<RawSource> open_refer_seg(const std::string& root, const ReferDatasetInfo& ds,
                                          const std::string& split) {
  refer_split_matches(split, "");  // validates the name
  return std::make_unique<ReferSegSource>(root, ds, split);
}

}  // namespace rd
