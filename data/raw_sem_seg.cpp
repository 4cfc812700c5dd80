#include "data/raw_sem_seg.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/error.h"
#include "common/vectorize.h"
#include "data/class_tables.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Layout {
  std::string label_dir, image_dir;  // relative to the root
};

Layout layout_of(const std::string& dataset, const std::string& split) {
  READ_CHECK(split == "train", dataset, ": only the 'train' split is packed (the reference trains on it)");
  if (dataset == "ade20k") return {"ade20k/annotations/training", "ade20k/images/training"};
  if (dataset == "cocostuff") return {"cocostuff/train2017", "coco/train2017"};
  if (dataset == "mapillary") return {"mapillary/training/v2.0/labels", "mapillary/training/images"};
  fail("unknown label-map dataset '", dataset, "'");
}

LabelRemap remap_of(const std::string& root, const std::string& dataset) {
  LabelRemap r;
  if (dataset == "ade20k") {
    r.rule = "ade20k";
    r.classes = ade20k_classes();
  } else if (dataset == "cocostuff") {
    r.rule = "cocostuff";
    r.classes = cocostuff_classes();
    for (size_t i = 0; i < r.classes.size(); ++i)
      if (r.classes[i].find('-') != std::string::npos) r.ignored.push_back(static_cast<int32_t>(i));
  } else {
    r.rule = "identity";
    BuildContext ctx(root, nullptr);
    const std::string rel = "mapillary/config_v2.0.json";
    const auto cfg = parse_json_text(ctx.read(rel), ctx.path(rel));
    const auto& labels = json_at(cfg, "labels", ctx.path(rel));
    READ_CHECK(labels.is_array() && !labels.empty(), ctx.path(rel), ": 'labels' is not a non-empty list");
    for (const auto& l : labels) r.classes.push_back(lower(json_string(l, "readable", ctx.path(rel) + " label")));
  }
  return r;
}

class SemSegSource : public RawSource {
 public:
  SemSegSource(const std::string& root, std::string dataset, const std::string& split)
      : dataset_(std::move(dataset)), layout_(layout_of(dataset_, split)), remap_(remap_of(root, dataset_)) {
    if (dataset_ == "ade20k") {  // the reference lists the images
      for (const auto& f : list_files((fs::path(root) / layout_.image_dir).string(), ".jpg"))
        stems_.push_back(f.substr(0, f.size() - 4));
    } else {  // ... and the labels for COCO-Stuff and Mapillary
      for (const auto& f : list_files((fs::path(root) / layout_.label_dir).string(), ".png"))
        stems_.push_back(f.substr(0, f.size() - 4));
    }
  }
  RecordKind kind() const override { return RecordKind::kSemSegLabelMap; }
  size_t size() const override { return stems_.size(); }
  std::string item_name(size_t i) const override { return layout_.label_dir + "/" + stems_[i] + ".png"; }

  std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string* left_out) override {
    SemSegRecord rec;
    rec.label_key = layout_.label_dir + "/" + stems_[i] + ".png";
    const std::string img = layout_.image_dir + "/" + stems_[i] + ".jpg";
    READ_CHECK(ctx.exists(rec.label_key), ctx.path(rec.label_key), ": missing label map for ", ctx.path(img));
    std::string png = ctx.read(rec.label_key);
    const LabelMap raw = decode_label_png(png, ctx.path(rec.label_key));
    BuiltItem out;
    rec.image = ctx.image_ref(img, out.blobs);
    READ_CHECK(raw.height == rec.image.height && raw.width == rec.image.width, ctx.path(rec.label_key),
               ": label map is ", raw.height, "x", raw.width, ", the image is ", rec.image.height, "x",
               rec.image.width);
    const std::vector<uint8_t> labels = remap_labels(raw, remap_, ctx.path(rec.label_key));
    bool present[256] = {false};
    for (uint8_t v : labels) present[v] = true;
    for (int c = 0; c < 255; ++c)
      if (present[c]) rec.present_classes.push_back(c);
    if (rec.present_classes.empty()) {
      *left_out = "no labelled class (all pixels ignored)";
      return std::nullopt;
    }
    out.blobs.emplace_back(rec.label_key, std::move(png));
    out.record = std::move(rec);
    return out;
  }

  nlohmann::json manifest() const override {
    return {{"source", {{"labels", layout_.label_dir}, {"images", layout_.image_dir}}},
            {"classes", remap_.classes},
            {"label_remap", {{"rule", remap_.rule}, {"ignored_classes", remap_.ignored}}}};
  }

 private:
  std::string dataset_;
  Layout layout_;
  LabelRemap remap_;
  std::vector<std::string> stems_;
};

}  // namespace

READ_VECTORIZE_LOOPS std::vector<uint8_t> remap_labels(const LabelMap& raw, const LabelRemap& remap,
                                                        const std::string& what) {
  const int32_t n = static_cast<int32_t>(remap.classes.size());
  std::vector<int32_t> lut;  // raw value -> class id / 255 / -1 (no class)
  int32_t max_v = 0;
  for (int32_t v : raw.values) max_v = std::max(max_v, v);
  lut.assign(static_cast<size_t>(max_v) + 1, -1);
  for (int32_t v = 0; v <= max_v; ++v) {
    int32_t c = v;
    if (remap.rule == "ade20k") {
      // label[label == 0] = 255; label -= 1; label[label == 254] = 255 (uint8)
      c = v == 0 ? 255 : v - 1;
      if (c == 254) c = 255;
    }
    if (c == 255) {
      lut[v] = 255;
    } else if (c >= 0 && c < n && c < 255) {
      lut[v] = c;
    }
  }
  for (int32_t c : remap.ignored)
    for (int32_t v = 0; v <= max_v; ++v)
      if (lut[v] == c) lut[v] = 255;
  // One branch-free pass (lut < 0 marks a value without a class), then the
  // first offending pixel is looked up only if there is one.
  // (Local pointers: a uint8_t store may alias the vectors' own pointers, which
  // the compiler would otherwise reload for every pixel.)
  std::vector<uint8_t> out(raw.values.size());
  const int32_t* values = raw.values.data();
  const int32_t* table = lut.data();
  uint8_t* o = out.data();
  int32_t missing = 0;
  for (size_t i = 0, pixels = out.size(); i < pixels; ++i) {
    const int32_t c = table[values[i]];
    missing |= c;
    o[i] = static_cast<uint8_t>(c);
  }
  if (missing < 0)
    for (size_t i = 0; i < out.size(); ++i)
      READ_CHECK(lut[static_cast<size_t>(raw.values[i])] >= 0, what, ": label value ", raw.values[i],
                 " at pixel (", i / raw.width, ", ", i % raw.width, ") has no class (", n, " classes, rule ",
                 remap.rule, ")");
  return out;
}

LabelRemap label_remap_from_manifest(const nlohmann::json& manifest) {
  LabelRemap r;
  r.classes = manifest.at("classes").get<std::vector<std::string>>();
  r.rule = manifest.at("label_remap").at("rule").get<std::string>();
  r.ignored = manifest.at("label_remap").at("ignored_classes").get<std::vector<int32_t>>();
  return r;
}

bool sem_seg_present(const std::string& root, const std::string& dataset) {
  const fs::path r(root);
  if (dataset == "ade20k") return fs::is_directory(r / "ade20k/images/training");
  if (dataset == "cocostuff") return fs::is_directory(r / "cocostuff/train2017");
  if (dataset == "mapillary") return fs::exists(r / "mapillary/config_v2.0.json");
  return false;
}

std::unique_ptr<RawSource> open_sem_seg(const std::string& root, const std::string& dataset,
                                        const std::string& split) {
  return std::make_unique<SemSegSource>(root, dataset, split);
}

}  // namespace rd
