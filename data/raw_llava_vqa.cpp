#include "data/raw_llava_vqa.h"

#include <filesystem>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

const char* kJson = "llava_dataset/llava_instruct_150k.json";

class LlavaVqaSource : public RawSource {
 public:
  explicit LlavaVqaSource(const std::string& root) {
    BuildContext ctx(root, nullptr);
    items_ = parse_json_text(ctx.read(kJson), ctx.path(kJson));
    READ_CHECK(items_.is_array(), ctx.path(kJson), ": not a list of items");
  }
  RecordKind kind() const override { return RecordKind::kVqa; }
  size_t size() const override { return items_.size(); }
  std::string item_name(size_t i) const override {
    const auto& it = items_[i];
    return std::string(kJson) + " item " + std::to_string(i) +
           (it.is_object() && it.contains("id") ? " (id " + it["id"].dump() + ")" : "");
  }

  std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string*) override {
    const std::string what = ctx.path(kJson) + " item " + std::to_string(i);
    const auto& it = items_[i];
    READ_CHECK(it.is_object(), what, ": not an object");
    VqaRecord rec;
    const auto& id = json_at(it, "id", what);
    rec.id = id.is_string() ? id.get<std::string>() : id.dump();
    const auto& conv = json_at(it, "conversations", what);
    READ_CHECK(conv.is_array() && !conv.empty(), what, ": 'conversations' is not a non-empty list");
    for (size_t t = 0; t < conv.size(); ++t) {
      const std::string tw = what + " turn " + std::to_string(t);
      VqaTurn turn{json_string(conv[t], "from", tw), json_string(conv[t], "value", tw)};
      READ_CHECK(turn.from == "human" || turn.from == "gpt", tw, ": 'from' is '", turn.from,
                 "' (expected human or gpt)");
      rec.conversations.push_back(std::move(turn));
    }
    BuiltItem out;
    rec.image = ctx.image_ref("coco/train2017/" + json_string(it, "image", what), out.blobs);
    out.record = std::move(rec);
    return out;
  }

  nlohmann::json manifest() const override {
    return {{"source", {{"json", kJson}, {"images", "coco/train2017/"}}}};
  }

 private:
  nlohmann::json items_;
};

}  // namespace

bool llava_vqa_present(const std::string& root) { return fs::exists(fs::path(root) / kJson); }

std::unique_ptr<RawSource> open_llava_vqa(const std::string& root, const std::string& split) {
  READ_CHECK(split == "train", "llava_instruct_150k: only the 'train' split exists");
  return std::make_unique<LlavaVqaSource>(root);
}

}  // namespace rd
