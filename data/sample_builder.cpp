#include "data/sample_builder.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/error.h"
#include "common/vectorize.h"
#include "data/buffer_cache.h"
#include "data/conversation.h"
#include "data/packed_masks.h"

namespace rd {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(ws);
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// {0,1} uint8 copy of a mask in one pass: 1 where the value is nonzero and
// not 255 (ignore). Binary masks stay as they are, summed polygons (values
// >= 2, spec 8.8) become 1, ReasonSeg's ignore pixels become background
// (spec 8.4). The buffer comes from the buffer cache (no page faults for
// large images).
READ_VECTORIZE_LOOPS torch::Tensor binary_mask(const torch::Tensor& mask) {
  if (mask.scalar_type() != torch::kUInt8 && mask.scalar_type() != torch::kBool)
    return mask.gt(0).logical_and(mask.ne(255)).to(torch::kUInt8);
  const torch::Tensor src = mask.contiguous();
  torch::Tensor out = cached_empty(src.sizes(), torch::kUInt8);
  const uint8_t* in = static_cast<const uint8_t*>(src.data_ptr());
  uint8_t* o = out.data_ptr<uint8_t>();
  const int64_t n = src.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<uint8_t>((in[i] != 0) & (in[i] != 255));
  return out;
}

struct Builder {
  const TemplateSet& t;
  SampleRng& rng;
  DecoratedSample out;

  std::string short_q(const std::string& name) { return fill_template(rng.pick(t.short_questions), "class_name", name); }
  std::string long_q(const std::string& sent) { return fill_template(rng.pick(t.long_questions), "sent", sent); }
  std::string short_a(const std::string& name) { return fill_template(rng.pick(t.short_answers), "class_name", name); }
  std::string long_a() { return rng.pick(t.long_answers); }
  std::string negative(const std::string& name) { return fill_template(rng.pick(t.negative_answers), "class_name", name); }
  std::string correction(const std::string& name, const std::string& gt) {
    return fill_template(fill_template(rng.pick(t.correction_answers), "class_name", name), "gt_name", gt);
  }

  torch::Tensor last_in, last_out;  // the same mask for several conversations is binarised once

  void add(const std::string& q, const std::string& a, torch::Tensor mask, const char* premise) {
    out.conversations.push_back(render_single_turn(q, a));
    out.exists.push_back(mask.defined());
    out.premise.push_back(premise);
    if (!mask.defined()) return;
    if (!last_in.defined() || !mask.is_same(last_in)) last_in = mask, last_out = binary_mask(mask);
    out.masks.push_back(last_out);
  }
};

enum class Premise { kTrue, kDenial, kCorrection };
const char* premise_name(Premise p) {
  return p == Premise::kTrue ? "true" : p == Premise::kDenial ? "denial" : "correction";
}

// Label maps (ADE20K, COCO-Stuff, Mapillary). Decision (spec 8.10): negatives
// are drawn only from classes that can be annotated, i.e. not the dataset's
// ignored classes (COCO-Stuff's '-' classes are 255 in every map, so "is
// there a wall-brick?" has no reliable answer).
void build_label_map(Builder& b, const PackReader& store, const SemSegRecord& rec, Premise mode, int64_t k) {
  const auto& m = store.manifest();
  READ_CHECK(m.contains("classes"), store.dir(), ": manifest has no class table");
  std::vector<std::string> classes = m["classes"].get<std::vector<std::string>>();
  std::set<int32_t> ignored;
  if (m.contains("label_remap") && m["label_remap"].contains("ignored_classes"))
    for (auto c : m["label_remap"]["ignored_classes"]) ignored.insert(c.get<int32_t>());
  std::set<int32_t> present(rec.present_classes.begin(), rec.present_classes.end());
  std::vector<int32_t> absent;
  for (int32_t c = 0; c < static_cast<int32_t>(classes.size()); ++c)
    if (!present.count(c) && !ignored.count(c)) absent.push_back(c);
  torch::Tensor label = packed_label_map(rec, store);
  std::vector<int64_t> pos = b.rng.select(rec.present_classes.size(), k);
  std::vector<int64_t> neg = b.rng.select(absent.size(), k);
  // Decision (spec 8.3): the reference indexes the negative list at every
  // positive's position even when it is shorter; we pair only as many.
  size_t n = mode == Premise::kTrue ? pos.size() : std::min(pos.size(), neg.size());
  for (size_t i = 0; i < n; ++i) {
    int32_t t = rec.present_classes[pos[i]];
    std::string tn = lower(classes[t]);
    if (mode == Premise::kTrue) {
      b.add(b.short_q(tn), b.short_a(tn), label.eq(t), "true");
    } else {
      std::string nn = lower(classes[absent[neg[i]]]);
      b.add(b.short_q(nn), mode == Premise::kDenial ? b.negative(nn) : b.correction(nn, tn), {}, premise_name(mode));
    }
  }
}

// PACO-LVIS / PASCAL-Part: instances, "obj part" or "the part of the obj".
void build_coco_parts(Builder& b, const PackReader& store, const CocoPartsRecord& rec, Premise mode, int64_t k) {
  std::map<int64_t, std::pair<std::string, std::string>> names;  // id -> (obj, part)
  for (const auto& c : store.manifest().at("categories"))
    names[c.at("id").get<int64_t>()] = {c.at("obj").get<std::string>(), c.at("part").get<std::string>()};
  auto name_of = [&](int64_t id) {
    auto [obj, part] = names.at(id);
    if (part.empty()) return obj;
    return b.rng.bernoulli(0.5) ? obj + " " + part : "the " + part + " of the " + obj;
  };
  std::set<int64_t> present;
  for (const auto& a : rec.annotations) present.insert(a.category_id);
  std::vector<int64_t> absent;
  for (const auto& [id, _] : names)
    if (!present.count(id)) absent.push_back(id);
  std::vector<int64_t> pos = b.rng.select(rec.annotations.size(), k);
  std::vector<int64_t> neg = b.rng.select(absent.size(), k);
  size_t n = mode == Premise::kTrue ? pos.size() : std::min(pos.size(), neg.size());
  for (size_t i = 0; i < n; ++i) {
    const CocoAnnotation& ann = rec.annotations[pos[i]];
    std::string tn = lower(name_of(ann.category_id));
    if (mode == Premise::kTrue) {
      b.add(b.short_q(tn), b.short_a(tn), packed_annotation_mask(ann, rec.image), "true");
    } else {
      std::string nn = lower(name_of(absent[neg[i]]));
      b.add(b.short_q(nn), mode == Premise::kDenial ? b.negative(nn) : b.correction(nn, tn), {}, premise_name(mode));
    }
  }
}

void build_refer(Builder& b, const std::string& family, const ReferSegRecord& rec, int64_t k) {
  std::vector<int64_t> pick = b.rng.select(rec.sentences.size(), k);
  for (int64_t i : pick) {
    const ReferSentence& s = rec.sentences[i];
    if (s.exists) {
      const CocoAnnotation* ann = nullptr;
      for (const auto& a : rec.annotations)
        if (a.id == s.ann_id) ann = &a;
      READ_CHECK(ann, "refer record of image ", rec.image_id, ": sentence ", s.sent_id,
                 " points to missing annotation ", s.ann_id);
      b.add(b.short_q(lower(s.sent)), b.short_a(lower(strip(s.sent))), packed_annotation_mask(*ann, rec.image),
            "true");
    } else if (family == "correct_refer_seg") {
      b.add(b.short_q(lower(s.sent)), b.correction(s.sent, s.gt_sent), {}, "correction");
    } else {
      b.add(b.short_q(lower(s.sent)), b.negative(s.sent), {}, "denial");
    }
  }
}

void build_reason(Builder& b, const ReasonSegRecord& rec, const SampleOptions& o) {
  // Decision (spec 8.3): the reference crashes without false_premise_QA; we
  // use the true premise for such records.
  bool false_premise = rec.has_false_premise_qa && !rec.false_premise_qa.empty() &&
                       b.rng.bernoulli(o.reason_seg_false_premise);
  if (false_premise) {
    for (int64_t i : b.rng.select(rec.false_premise_qa.size(), o.num_classes_per_sample)) {
      const FalsePremiseQA& fp = rec.false_premise_qa[i];
      b.add(fp.is_sentence ? b.long_q(fp.query) : b.short_q(lower(fp.query)), fp.answer, {}, "false");
    }
    return;
  }
  // Decision (spec 8.4): ignore pixels (255) count as background in training,
  // as the reference's (mask == 1): add() binarises {0, 1, 255} to exactly that.
  torch::Tensor mask = packed_reason_mask(rec);
  for (int64_t i : b.rng.select(rec.texts.size(), o.num_classes_per_sample)) {
    const std::string& text = rec.texts[i];
    b.add(rec.is_sentence ? b.long_q(text) : b.short_q(lower(text)), b.long_a(), mask, "true");
  }
}

void build_vqa(Builder& b, const VqaRecord& rec) {
  std::vector<std::pair<std::string, std::string>> turns;
  for (const auto& t : rec.conversations) turns.emplace_back(t.from, t.value);
  b.out.conversations.push_back(render_llava_v1(vqa_turns(turns)));
  b.out.exists.push_back(false);
  b.out.premise.push_back("vqa");
}

}  // namespace

DecoratedSample build_sample(const std::string& family, const PackReader& store, int64_t item, SampleRng& rng,
                             const TemplateSet& templates, const SampleOptions& options) {
  Builder b{templates, rng, {}};
  b.out.family = family;
  b.out.dataset = store.manifest().value("dataset", store.dir());
  b.out.record = item;
  Record rec = store.get(static_cast<size_t>(item));
  b.out.image = record_image(rec);
  const int64_t k = options.num_classes_per_sample;
  if (auto* r = std::get_if<ReasonSegRecord>(&rec)) {
    build_reason(b, *r, options);
  } else if (auto* r = std::get_if<ReferSegRecord>(&rec)) {
    build_refer(b, family, *r, k);
  } else if (auto* r = std::get_if<VqaRecord>(&rec)) {
    build_vqa(b, *r);
  } else {
    double u = rng.uniform();
    Premise mode = u < options.sem_seg_denial ? Premise::kDenial
                   : u < options.sem_seg_denial + options.sem_seg_correction ? Premise::kCorrection
                                                                             : Premise::kTrue;
    if (auto* r = std::get_if<SemSegRecord>(&rec)) build_label_map(b, store, *r, mode, k);
    if (auto* r = std::get_if<CocoPartsRecord>(&rec)) build_coco_parts(b, store, *r, mode, k);
  }
  READ_CHECK(!b.out.conversations.empty(), store.dir(), ": record ", item, " gave no conversation");
  return std::move(b.out);
}

}  // namespace rd
