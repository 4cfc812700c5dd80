// Mask decoding against the reference fixtures (kind "mask_decode"): COCO
// polygons / RLE exactly as pycocotools, READ refer_seg sums binarised, and
// ReasonSeg LabelMe polygons exactly as OpenCV draws them.
#include <gtest/gtest.h>

#include "common/error.h"
#include "data/mask_coco.h"
#include "data/mask_reason.h"
#include "tests/harness/fixtures.h"

namespace {
using nlohmann::json;
using rd::testing::FixtureCase;

torch::Tensor hw_tensor(const std::vector<uint8_t>& m, int64_t h, int64_t w) {
  return torch::from_blob(const_cast<uint8_t*>(m.data()), {h, w}, torch::kUInt8).clone();
}

// The reference's per-part RLEs (frPyObjects / decode), without validation.
std::vector<rd::Rle> reference_parts(const json& seg, int64_t h, int64_t w) {
  std::vector<rd::Rle> parts;
  auto from_dict = [&](const json& d) {
    const int64_t rh = d["size"][0], rw = d["size"][1];
    if (d["counts"].is_string()) return rd::rle_from_string(d["counts"].get<std::string>(), rh, rw);
    rd::Rle r;
    r.h = rh, r.w = rw;
    for (const auto& c : d["counts"]) r.counts.push_back(c.get<uint32_t>());
    return r;
  };
  if (seg.is_object()) return {from_dict(seg)};
  for (const auto& p : seg) {
    if (p.is_object()) {
      parts.push_back(from_dict(p));
    } else {
      std::vector<double> xy;
      for (const auto& v : p) xy.push_back(v.get<double>());
      parts.push_back(rd::rle_from_polygon(xy, h, w));
    }
  }
  return parts;
}

void check_coco_case(const FixtureCase& c, const json& k) {
  const std::string name = k["name"];
  SCOPED_TRACE(c.name() + "/" + name);
  const int64_t h = k["h"], w = k["w"];
  const json& seg = k["segmentation"];
  const json& exp = k["expected"];
  bool parts_defined = exp["pycocotools"]["ok"].get<bool>();
  std::vector<rd::Rle> parts;
  if (parts_defined) {
    parts = reference_parts(seg, h, w);
    const json& counts = exp["pycocotools"]["rle_counts"];
    ASSERT_EQ(parts.size(), counts.size());
    torch::Tensor decoded = torch::zeros({static_cast<int64_t>(parts.size()), h, w}, torch::kUInt8);
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_EQ(rd::rle_to_string(parts[i]), counts[i].get<std::string>()) << "part " << i;
      EXPECT_EQ(rd::rle_area(parts[i]), exp["pycocotools"]["areas"][i].get<int64_t>());
      EXPECT_NO_THROW(rd::rle_check(parts[i], name));
      decoded[static_cast<int64_t>(i)].copy_(hw_tensor(rd::rle_decode(parts[i]), h, w));
    }
    EXPECT_MATCHES(c, name + "/decoded", decoded);
  }
  // Our validated path: parse + union.
  bool parse_ok = true;
  rd::CocoSegmentation parsed;
  try {
    parsed = rd::parse_coco_segmentation(seg, h, w, name);
  } catch (const rd::Error& e) {
    parse_ok = false;
    // Rejected inputs are exactly the degenerate / malformed polygons.
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
  bool degenerate = false;
  if (seg.is_array())
    for (const auto& p : seg)
      if (p.is_array() && (p.size() < 6 || p.size() % 2 == 1)) degenerate = true;
  EXPECT_EQ(parse_ok, !degenerate) << "parse of " << seg.dump();
  if (!parse_ok) return;
  torch::Tensor ours = hw_tensor(rd::segmentation_mask(parsed, h, w), h, w);
  if (exp["annToMask"]["ok"].get<bool>()) EXPECT_MATCHES(c, name + "/ann_to_mask", ours);
  if (exp["refer_process_annotation"]["ok"].get<bool>())
    EXPECT_TRUE(rd::testing::tensors_close(name + "/refer_sum>0", ours,
                                           c.want(name + "/refer_sum").gt(0).to(torch::kUInt8),
                                           {0, 0, true}));
}

void check_labelme_case(const FixtureCase& c, const json& k) {
  const std::string name = k["name"];
  SCOPED_TRACE(c.name() + "/" + name);
  const int h = k["h"], w = k["w"];
  std::vector<rd::LabelMeShape> shapes;
  for (const auto& s : k["shapes"]) {
    rd::LabelMeShape shape;
    shape.label = s["label"];
    for (const auto& p : s["points"])
      for (const auto& v : p) shape.points.push_back(v.get<double>());
    shapes.push_back(shape);
  }
  if (!k["expected"]["ok"].get<bool>()) {
    EXPECT_THROW(rd::reason_seg_mask(shapes, h, w), rd::Error);
    return;
  }
  rd::ReasonMask m = rd::reason_seg_mask(shapes, h, w);
  EXPECT_MATCHES(c, name + "/mask", hw_tensor(m.mask, h, w));
  EXPECT_EQ(m.kept, k["expected"]["kept_shape_indices"].get<std::vector<int64_t>>());
  EXPECT_MATCHES(c, name + "/areas", torch::tensor(m.areas, torch::kInt64));
  EXPECT_MATCHES(c, name + "/paint_order", torch::tensor(m.paint_order, torch::kInt64));
}

TEST(DataMasks, AllMaskDecodeCases) {
  int n = 0;
  for (const FixtureCase& c : rd::testing::cases_of_kind("mask_decode")) {
    for (const json& k : c.spec().at("cases")) {
      if (k.contains("shapes"))
        check_labelme_case(c, k);
      else
        check_coco_case(c, k);
      ++n;
    }
  }
  EXPECT_GT(n, 0);
}

TEST(DataMasks, RleStringRoundTrip) {
  rd::Rle r;
  r.h = 64, r.w = 96;
  r.counts = {0, 5, 3000, 1, 2, 40, 3096};
  rd::Rle back = rd::rle_from_string(rd::rle_to_string(r), 64, 96);
  EXPECT_EQ(back.counts, r.counts);
  EXPECT_THROW(rd::rle_from_string("a b", 4, 4), rd::Error);   // ' ' is outside the codec
  EXPECT_THROW(rd::rle_from_string("0o", 4, 4), rd::Error);    // 'o' continues past the end
}

TEST(DataMasks, RleMustCoverTheImage) {
  json seg = {{"size", {4, 5}}, {"counts", {3, 4, 5}}};  // 12 of 20 pixels
  EXPECT_THROW(rd::parse_coco_segmentation(seg, 4, 5, "ann 7"), rd::Error);
  json wrong_size = {{"size", {5, 4}}, {"counts", {20}}};
  EXPECT_THROW(rd::parse_coco_segmentation(wrong_size, 4, 5, "ann 7"), rd::Error);
}

}  // namespace
