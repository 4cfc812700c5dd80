// Typed records of the packed datasets (one per image, or per item for VQA),
// what the sampler and loader read back from LMDB. Every record carries the
// image it is about (a key into the environment's image table; the ORIGINAL
// encoded bytes are stored once per key) and its annotations in compact form:
// polygons, compressed RLE strings, LabelMe shapes, label-map PNG keys, and
// the texts. Masks are produced from them on demand (packed_masks.h).
//
// Serialised as CBOR (nlohmann::json) inside a versioned, checksummed
// envelope (lmdb_store.h); to_json() of any record is its readable form.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/mask_coco.h"

namespace rd {

// Bumped whenever a record or manifest field changes meaning.
constexpr int kPackFormatVersion = 1;

enum class RecordKind : int {
  kReasonSeg = 1,
  kReferSeg = 2,
  kSemSegLabelMap = 3,
  kCocoParts = 4,
  kVqa = 5,
};
const char* record_kind_name(RecordKind k);

struct ImageRef {
  std::string key;         // image path relative to the dataset root = image-table key
  int32_t height = 0;      // size after applying `orientation`: the mask canvas
  int32_t width = 0;
  // EXIF orientation (1..8) the loader applies after decoding, as cv2.imread
  // does; 1 when the file has none or when the annotations are in stored
  // (unrotated) coordinates (see raw_common.h).
  int32_t orientation = 1;
};

struct FalsePremiseQA {
  std::string query;
  bool is_sentence = false;
  std::string answer;
};

struct LabelMeShapeRec {
  std::string label;
  std::vector<double> points;  // flat x1,y1,... as in the json (truncated when drawn)
};

// ReasonSeg (LabelMe json beside each image).
struct ReasonSegRecord {
  ImageRef image;
  std::string json_key;  // the annotation file, relative to the root
  std::vector<LabelMeShapeRec> shapes;
  std::vector<std::string> texts;
  bool is_sentence = false;
  // SESAME's FP-Aug queries; empty when the json has none (LISA's ReasonSeg):
  // decision (problems.json "reasonseg_json_without_false_premise_QA").
  std::vector<FalsePremiseQA> false_premise_qa;
  bool has_false_premise_qa = false;
};

struct ReferSentence {
  std::string sent;     // as in the refs pickle (unstripped)
  std::string gt_sent;  // FP-refCOCO's corrected sentence, "" otherwise
  bool exists = true;   // not is_false_premise, else exist, else true
  int64_t ann_id = 0, ref_id = 0, sent_id = 0;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t category_id = 0;
  CocoSegmentation segmentation;  // canvas = the record's image size
};

// refCOCO family (refer_seg, R-refCOCO neg_refer_seg, FP-refCOCO correct_refer_seg).
struct ReferSegRecord {
  ImageRef image;
  int64_t image_id = 0;
  std::vector<ReferSentence> sentences;    // all sentences of the image's refs, ref order
  std::vector<CocoAnnotation> annotations;  // every annotation a sentence points to
};

// ADE20K, COCO-Stuff, Mapillary: label map PNG (original bytes in the image
// table under `label_key`), remapped when decoded (manifest `label_remap`).
struct SemSegRecord {
  ImageRef image;
  std::string label_key;
  std::vector<int32_t> present_classes;  // after the remap, ascending, 255 excluded
};

// PACO-LVIS, PASCAL-Part (COCO json with obj:part categories).
struct CocoPartsRecord {
  ImageRef image;
  int64_t image_id = 0;
  std::vector<CocoAnnotation> annotations;  // json order
};

struct VqaTurn {
  std::string from;  // "human" | "gpt"
  std::string value;
};

// LLaVA-Instruct-150k item (raw turns; the sampler rewrites <image>).
struct VqaRecord {
  ImageRef image;
  std::string id;
  std::vector<VqaTurn> conversations;
};

using Record = std::variant<ReasonSegRecord, ReferSegRecord, SemSegRecord, CocoPartsRecord, VqaRecord>;

RecordKind record_kind(const Record& r);
const ImageRef& record_image(const Record& r);

// CBOR payload <-> record. Decoding checks every field (missing or mistyped
// fields throw rd::Error naming `what`).
std::string encode_record(const Record& r);
Record decode_record(RecordKind kind, const uint8_t* data, size_t size, const std::string& what);
nlohmann::json to_json(const Record& r);

}  // namespace rd
