#include "data/raw_coco_parts.h"

#include <filesystem>
#include <map>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string cut(const std::string& s) { return s.substr(0, s.find("_(")); }

struct Layout {
  std::string json, image_prefix;
};

Layout layout_of(const std::string& dataset, const std::string& split) {
  READ_CHECK(split == "train", dataset, ": only the 'train' split is packed (the reference trains on it)");
  if (dataset == "paco_lvis") return {"vlpart/paco/annotations/paco_lvis_v1_train.json", "coco/"};
  if (dataset == "pascal_part")
    return {"vlpart/pascal_part/train.json", "vlpart/pascal_part/VOCdevkit/VOC2010/JPEGImages/"};
  fail("unknown part dataset '", dataset, "'");
}

class CocoPartsSource : public RawSource {
 public:
  CocoPartsSource(const std::string& root, std::string dataset, const std::string& split)
      : dataset_(std::move(dataset)), layout_(layout_of(dataset_, split)) {
    BuildContext ctx(root, nullptr);
    const std::string jw = ctx.path(layout_.json);
    const nlohmann::json j = parse_json_text(ctx.read(layout_.json), jw);
    for (const auto& c : json_at(j, "categories", jw)) {
      const int64_t id = json_int(c, "id", jw + " category");
      classes_.push_back(part_class(id, json_string(c, "name", jw + " category " + std::to_string(id)),
                                    jw + " category " + std::to_string(id)));
      known_categories_[id] = true;
    }
    for (const auto& im : json_at(j, "images", jw)) {
      const int64_t id = json_int(im, "id", jw + " image");
      if (!images_.count(id)) order_.push_back(id);  // getImgIds(): dict order, last record wins
      images_[id] = im;
    }
    for (const auto& a : json_at(j, "annotations", jw))
      anns_by_image_[json_int(a, "image_id", jw + " annotation")].push_back(a);
    json_rel_ = layout_.json;
  }
  RecordKind kind() const override { return RecordKind::kCocoParts; }
  size_t size() const override { return order_.size(); }
  std::string item_name(size_t i) const override {
    const nlohmann::json& im = images_.at(order_[i]);
    const bool named = im.contains("file_name") && im["file_name"].is_string();
    return json_rel_ + " image " + std::to_string(order_[i]) +
           (named ? " (" + layout_.image_prefix + im["file_name"].get<std::string>() + ")" : "");
  }

  std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string* left_out) override {
    const int64_t id = order_[i];
    const nlohmann::json& im = images_.at(id);
    const std::string iw = ctx.path(json_rel_) + " image " + std::to_string(id);
    auto it = anns_by_image_.find(id);
    if (it == anns_by_image_.end() || it->second.empty()) {
      *left_out = "image has no annotation";
      return std::nullopt;
    }
    const int64_t h = json_int(im, "height", iw), w = json_int(im, "width", iw);
    CocoPartsRecord rec;
    rec.image_id = id;
    for (const auto& a : it->second) {
      const std::string aw = ctx.path(json_rel_) + " annotation " + std::to_string(json_int(a, "id", iw + " annotation"));
      CocoAnnotation ann;
      ann.id = json_int(a, "id", aw);
      ann.category_id = json_int(a, "category_id", aw);
      READ_CHECK(known_categories_.count(ann.category_id), aw, ": category ", ann.category_id,
                 " is not in the category list");
      ann.segmentation = parse_coco_segmentation(json_at(a, "segmentation", aw), h, w, aw);
      rec.annotations.push_back(std::move(ann));
    }
    BuiltItem out;
    rec.image = ctx.image_ref(layout_.image_prefix + json_string(im, "file_name", iw), out.blobs, h, w);
    out.record = std::move(rec);
    return out;
  }

  nlohmann::json manifest() const override {
    nlohmann::json cls = nlohmann::json::array();
    for (const auto& c : classes_)
      cls.push_back({{"id", c.id}, {"name", c.raw_name}, {"obj", c.obj}, {"part", c.part}});
    return {{"source", {{"json", json_rel_}, {"images", layout_.image_prefix}}}, {"categories", cls}};
  }

 private:
  std::string dataset_;
  Layout layout_;
  std::string json_rel_;
  std::vector<PartClass> classes_;
  std::map<int64_t, bool> known_categories_;
  std::map<int64_t, nlohmann::json> images_;
  std::vector<int64_t> order_;
  std::map<int64_t, std::vector<nlohmann::json>> anns_by_image_;
};

}  // namespace

PartClass part_class(int64_t id, const std::string& raw_name, const std::string& what) {
  PartClass c;
  c.id = id;
  c.raw_name = raw_name;
  const std::string name = strip(raw_name);
  const size_t colon = name.find(':');
  if (colon == std::string::npos) {
    c.obj = cut(name);
  } else {
    READ_CHECK(name.find(':', colon + 1) == std::string::npos, what, ": category name '", raw_name,
               "' has more than one ':'");
    c.obj = cut(name.substr(0, colon));
    c.part = cut(name.substr(colon + 1));
  }
  return c;
}

bool coco_parts_present(const std::string& root, const std::string& dataset) {
  try {
    return fs::exists(fs::path(root) / layout_of(dataset, "train").json);
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<RawSource> open_coco_parts(const std::string& root, const std::string& dataset,
                                           const std::string& split) {
  return std::make_unique<CocoPartsSource>(root, dataset, split);
}

}  // namespace rd
