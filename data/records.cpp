#include "data/records.h"

#include "common/error.h"

namespace rd {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ImageRef, key, height, width, orientation)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(FalsePremiseQA, query, is_sentence, answer)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LabelMeShapeRec, label, points)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReasonSegRecord, image, json_key, shapes, texts, is_sentence,
                                   false_premise_qa, has_false_premise_qa)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReferSentence, sent, gt_sent, exists, ann_id, ref_id, sent_id)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CocoSegmentation::RleString, h, w, counts)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CocoSegmentation, kind, polygons, rles)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CocoAnnotation, id, category_id, segmentation)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReferSegRecord, image, image_id, sentences, annotations)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SemSegRecord, image, label_key, present_classes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CocoPartsRecord, image, image_id, annotations)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(VqaTurn, from, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(VqaRecord, image, id, conversations)

const char* record_kind_name(RecordKind k) {
  switch (k) {
    case RecordKind::kReasonSeg: return "reason_seg";
    case RecordKind::kReferSeg: return "refer_seg";
    case RecordKind::kSemSegLabelMap: return "sem_seg_label_map";
    case RecordKind::kCocoParts: return "coco_parts";
    case RecordKind::kVqa: return "vqa";
  }
  return "unknown";
}

RecordKind record_kind(const Record& r) { return static_cast<RecordKind>(r.index() + 1); }

const ImageRef& record_image(const Record& r) {
  return std::visit([](const auto& rec) -> const ImageRef& { return rec.image; }, r);
}

nlohmann::json to_json(const Record& r) {
  return std::visit([](const auto& rec) { return nlohmann::json(rec); }, r);
}

std::string encode_record(const Record& r) {
  std::vector<uint8_t> cbor = nlohmann::json::to_cbor(to_json(r));
  return std::string(cbor.begin(), cbor.end());
}

Record decode_record(RecordKind kind, const uint8_t* data, size_t size, const std::string& what) {
  try {
    nlohmann::json j = nlohmann::json::from_cbor(data, data + size);
    switch (kind) {
      case RecordKind::kReasonSeg: return j.get<ReasonSegRecord>();
      case RecordKind::kReferSeg: return j.get<ReferSegRecord>();
      case RecordKind::kSemSegLabelMap: return j.get<SemSegRecord>();
      case RecordKind::kCocoParts: return j.get<CocoPartsRecord>();
      case RecordKind::kVqa: return j.get<VqaRecord>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail(what, ": malformed record (", e.what(), ")");
  }
  fail(what, ": unknown record kind ", static_cast<int>(kind));
}

}  // namespace rd
