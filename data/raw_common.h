// Shared pieces of the raw dataset readers (raw_*.h): the interface a raw
// dataset offers to the packer, and the context that reads and validates
// files under the dataset root.
//
// Image orientation decision: the reference decodes with cv2.imread, which
// applies the EXIF orientation, and ReasonSeg polygons are drawn at that
// rotated size (fixture rs_train_0002). COCO-style datasets carry the image
// size in their json: when the rotated size matches it (or there is no EXIF
// rotation) the record keeps the orientation; when only the STORED size
// matches, the annotations are in stored coordinates and the record says
// orientation 1 (the loader must not rotate); when neither matches the item
// is bad input (the reference would crash on the mask/image size mismatch).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image_check.h"
#include "data/records.h"

namespace rd {

class PackWriter;

using PendingBlobs = std::vector<std::pair<std::string, std::string>>;  // key, bytes

struct BuiltItem {
  Record record;
  PendingBlobs blobs;  // written with the record, only if it is accepted
};

class BuildContext {
 public:
  BuildContext(std::string root, const PackWriter* writer) : root_(std::move(root)), writer_(writer) {}
  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const;  // root/rel
  bool exists(const std::string& rel) const;
  // Whole file; throws "<root/rel>: cannot read (...)".
  std::string read(const std::string& rel) const;
  // Reads and validates the image at root/rel (once per key), queueing its
  // bytes in `out` unless the store already has them.
  ImageInfo image(const std::string& rel, PendingBlobs& out);
  // ImageRef for `rel`; canvas_h/w > 0 is the annotations' image size (see above).
  ImageRef image_ref(const std::string& rel, PendingBlobs& out, int64_t canvas_h = 0,
                     int64_t canvas_w = 0);

 private:
  std::string root_;
  const PackWriter* writer_;
  std::unordered_map<std::string, ImageInfo> infos_;
};

// A raw dataset split as a list of work items (one record each at most).
class RawSource {
 public:
  virtual ~RawSource() = default;
  virtual RecordKind kind() const = 0;
  virtual size_t size() const = 0;
  virtual std::string item_name(size_t i) const = 0;  // file or id, for reports
  // The record of item i; std::nullopt when the item is legitimately left
  // out (not an error; *left_out says why). Throws rd::Error on bad input.
  virtual std::optional<BuiltItem> build(size_t i, BuildContext& ctx, std::string* left_out) = 0;
  // Source description, classes, remap rule... merged into the manifest.
  virtual nlohmann::json manifest() const = 0;
};

// Helpers.
nlohmann::json parse_json_text(const std::string& text, const std::string& what);
bool valid_utf8(const std::string& s);
std::string cp1252_to_utf8(const std::string& s, const std::string& what);  // throws on undefined bytes
std::string latin1_to_utf8(const std::string& s);
std::vector<std::string> list_files(const std::string& dir, const std::string& extension);  // sorted names
const nlohmann::json& json_at(const nlohmann::json& j, const char* key, const std::string& what);
std::string json_string(const nlohmann::json& j, const char* key, const std::string& what);
int64_t json_int(const nlohmann::json& j, const char* key, const std::string& what);

}  // namespace rd
