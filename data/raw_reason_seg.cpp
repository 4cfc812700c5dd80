#include "data/raw_reason_seg.h"

#include <filesystem>

#include "common/error.h"
#include "data/mask_reason.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

const char* kBase = "reason_seg/ReasonSeg";

bool json_bool(const nlohmann::json& v, const std::string& what) {
  READ_CHECK(v.is_boolean(), what, " is not true/false (", v.dump().substr(0, 60), ")");
  return v.get<bool>();
}

class ReasonSegSource : public RawSource {
 public:
  ReasonSegSource(std::string root, std::string split) : root_(std::move(root)), split_(std::move(split)) {
    const std::string rel = std::string(kBase) + "/" + split_;
    READ_CHECK(fs::is_directory(fs::path(root_) / rel), (fs::path(root_) / rel).string(),
               ": no such ReasonSeg split folder");
    for (const auto& f : list_files((fs::path(root_) / rel).string(), ".jpg")) images_.push_back(rel + "/" + f);
  }
  RecordKind kind() const override { return RecordKind::kReasonSeg; }
  size_t size() const override { return images_.size(); }
  std::string item_name(size_t i) const override { return images_[i]; }

  std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string*) override {
    const std::string& img = images_[i];
    ReasonSegRecord rec;
    rec.json_key = img.substr(0, img.size() - 4) + ".json";
    READ_CHECK(ctx.exists(rec.json_key), ctx.path(rec.json_key), ": missing annotation for ",
               ctx.path(img));
    parse_reason_seg_json(ctx.read(rec.json_key), ctx.path(rec.json_key), rec);
    BuiltItem out;
    rec.image = ctx.image_ref(img, out.blobs);
    // Draw once: catches what the reference's cv2 calls would reject.
    std::vector<LabelMeShape> shapes;
    for (const auto& s : rec.shapes) shapes.push_back({s.label, s.points});
    try {
      reason_seg_mask(shapes, rec.image.height, rec.image.width);
    } catch (const Error& e) {
      fail(ctx.path(rec.json_key), ": ", e.what());
    }
    out.record = std::move(rec);
    return out;
  }

  nlohmann::json manifest() const override {
    return {{"source", {{"folder", std::string(kBase) + "/" + split_}, {"format", "LabelMe json per image"}}}};
  }

 private:
  std::string root_, split_;
  std::vector<std::string> images_;
};

}  // namespace

std::vector<std::string> reason_seg_splits(const std::string& root) {
  std::vector<std::string> out;
  for (const char* s : {"train", "val", "test"})
    if (fs::is_directory(fs::path(root) / kBase / s)) out.push_back(s);
  return out;
}

std::unique_ptr<RawSource> open_reason_seg(const std::string& root, const std::string& split) {
  return std::make_unique<ReasonSegSource>(root, split);
}

void parse_reason_seg_json(const std::string& bytes, const std::string& what, ReasonSegRecord& rec) {
  // The reference reads with the default (UTF-8) codec and retries cp1252.
  const nlohmann::json j =
      parse_json_text(valid_utf8(bytes) ? bytes : cp1252_to_utf8(bytes, what), what);
  READ_CHECK(j.is_object(), what, ": not a JSON object");
  const auto& shapes = json_at(j, "shapes", what);
  READ_CHECK(shapes.is_array(), what, ": 'shapes' is not a list");
  for (size_t s = 0; s < shapes.size(); ++s) {
    const std::string sw = what + " shape " + std::to_string(s);
    LabelMeShapeRec shape;
    shape.label = json_string(shapes[s], "label", sw);
    const auto& pts = json_at(shapes[s], "points", sw);
    READ_CHECK(pts.is_array() && !pts.empty(), sw, ": 'points' is not a non-empty list");
    for (const auto& p : pts) {
      READ_CHECK(p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number(), sw,
                 ": point ", p.dump().substr(0, 60), " is not [x, y]");
      shape.points.push_back(p[0].get<double>());
      shape.points.push_back(p[1].get<double>());
    }
    rec.shapes.push_back(std::move(shape));
  }
  const auto& text = json_at(j, "text", what);
  READ_CHECK(text.is_array(), what, ": 'text' is not a list");
  for (const auto& t : text) {
    READ_CHECK(t.is_string(), what, ": a 'text' entry is not a string");
    rec.texts.push_back(t.get<std::string>());
  }
  READ_CHECK(!rec.texts.empty(), what, ": no query in 'text'");
  rec.is_sentence = json_bool(json_at(j, "is_sentence", what), what + " 'is_sentence'");
  if (j.contains("false_premise_QA") && !j["false_premise_QA"].is_null()) {
    const auto& fp = j["false_premise_QA"];
    READ_CHECK(fp.is_array(), what, ": 'false_premise_QA' is not a list");
    rec.has_false_premise_qa = true;
    for (const auto& q : fp) {
      READ_CHECK(q.is_array() && q.size() == 3 && q[0].is_string() && q[2].is_string(), what,
                 ": a false_premise_QA entry is not [query, is_sentence, answer]");
      rec.false_premise_qa.push_back(
          {q[0].get<std::string>(), json_bool(q[1], what + " false_premise_QA is_sentence"),
           q[2].get<std::string>()});
    }
  }
}

}  // namespace rd
