// SasP (model/sasp.h) against every `sasp` fixture case and the SasP tensors
// of every `read_forward` case, plus the improvements: local-window D2C equals
// the full-grid sum, a constant map gives finite points, the paper variant.
#include <cmath>
#include <fstream>

#include "common/config_reader.h"
#include "model/sasp.h"
#include "tests/harness/fixtures.h"

using rd::SaspConfig;
using rd::testing::FixtureCase;
using rd::testing::Tolerance;
using rd::testing::tensors_close;

namespace {

// keep_origin_sm: also build the full H x W map (the model does not need it).
SaspConfig config_of(const nlohmann::json& c, bool keep_origin_sm = true) {
  SaspConfig cfg;
  cfg.keep_origin_sm = keep_origin_sm;
  cfg.num_points = c.at("num_points").get<int64_t>();
  cfg.t_pos = c.at("t_pos").get<double>();
  cfg.t_neg = c.at("t_neg").get<double>();
  cfg.down_sample = c.at("down_sample").get<int64_t>();
  if (c.contains("origin_map_target_size")) cfg.target_size = c["origin_map_target_size"].get<int64_t>();
  return cfg;
}

std::pair<int64_t, int64_t> shape_of(const torch::Tensor& t) {
  return {t[0].item<int64_t>(), t[1].item<int64_t>()};
}

bool has_want(const FixtureCase& c, const std::string& name) { return c.expected().count(name) > 0; }

// The case's bookkeeping of the reference run (coarse map size and pads,
// selection counts, 336-level pads) against our intermediates.
void check_bookkeeping(const FixtureCase& c, const rd::SaspResult& r, const nlohmann::json& cfg) {
  SCOPED_TRACE(c.name() + " bookkeeping");
  auto pair = [&](const char* key) { return cfg.at(key).get<std::vector<int64_t>>(); };
  EXPECT_EQ(r.points.size(0), cfg.at("K").get<int64_t>());
  // num_pos / num_neg / num_neutral count the selected (first K) points.
  EXPECT_EQ(r.labels.eq(1).sum().item<int64_t>(), cfg.at("num_pos").get<int64_t>());
  EXPECT_EQ(r.labels.eq(0).sum().item<int64_t>(), cfg.at("num_neg").get<int64_t>());
  EXPECT_EQ(r.labels.eq(-1).sum().item<int64_t>(), cfg.at("num_neutral").get<int64_t>());
  EXPECT_EQ((std::vector<int64_t>{r.grid.h, r.grid.w}), pair("down_map_hw_after_pad"));
  EXPECT_EQ((std::vector<int64_t>{r.grid.pad.pad_h, r.grid.pad.pad_w}), pair("down_map_pad_hw"));
  if (cfg.contains("down_map_new_hw"))
    EXPECT_EQ((std::vector<int64_t>{r.grid.pad.new_h, r.grid.pad.new_w}), pair("down_map_new_hw"));
  if (cfg.contains("scale_h")) {
    EXPECT_DOUBLE_EQ(r.grid.scale_h, cfg["scale_h"].get<double>());
    EXPECT_DOUBLE_EQ(r.grid.scale_w, cfg["scale_w"].get<double>());
  }
  auto [H, W] = std::pair<int64_t, int64_t>{r.origin_sm.size(0), r.origin_sm.size(1)};
  rd::SaspPad p = rd::sasp_pad(H, W, 336);
  EXPECT_EQ((std::vector<int64_t>{p.new_h, p.new_w}), pair("origin_map_new_hw"));
  EXPECT_EQ((std::vector<int64_t>{p.pad_h, p.pad_w}), pair("origin_map_pad_hw"));
}

}  // namespace

// Points stage fed with the stored similarity: exact discrete decisions and
// every stored tensor at its tolerance.
TEST(Sasp, FixturePointsStageFromStoredSimilarity) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sasp")) {
    SCOPED_TRACE(c.name());
    SaspConfig cfg = config_of(c.config());
    auto [H, W] = shape_of(c.input("shape"));
    rd::SaspResult r = rd::similarity_map_to_points(c.want("similarity"), H, W, cfg);
    EXPECT_MATCHES(c, "down_sm", r.grid.map);
    if (has_want(c, "origin_sm")) EXPECT_MATCHES(c, "origin_sm", r.origin_sm);
    EXPECT_MATCHES(c, "selected_indices", r.selection.indices);
    EXPECT_MATCHES(c, "labels", r.labels);
    EXPECT_MATCHES(c, "points_discrete", r.points_discrete);
    EXPECT_MATCHES(c, "points", r.points);
    auto [sh, sw] = rd::sam_preprocess_shape(H, W, 1024);
    EXPECT_MATCHES(c, "points_1024", rd::points_to_sam_frame(r.points, H, W, sh, sw));
    check_bookkeeping(c, r, c.config());
  }
}

// The whole pipeline from the hidden states, with gradients where stored.
TEST(Sasp, FixtureFullPipelineAndGradients) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sasp")) {
    SCOPED_TRACE(c.name());
    SaspConfig cfg = config_of(c.config(), /*keep_origin_sm=*/false);  // the model's path
    auto [H, W] = shape_of(c.input("shape"));
    torch::Tensor ih = c.input("image_hidden").clone().requires_grad_(true);
    torch::Tensor sh = c.input("seg_hidden").clone().requires_grad_(true);
    rd::SaspResult r = rd::similarity_as_points(ih, sh, H, W, cfg);
    EXPECT_MATCHES(c, "similarity", r.similarity);
    EXPECT_MATCHES(c, "labels", r.labels);
    EXPECT_MATCHES(c, "selected_indices", r.selection.indices);
    EXPECT_MATCHES(c, "points_discrete", r.points_discrete);
    EXPECT_MATCHES(c, "points", r.points);
    ASSERT_TRUE(r.points.requires_grad()) << "points lost their autograd graph";
    r.points.sum().backward();
    if (has_want(c, "grad_image_hidden")) {
      EXPECT_MATCHES(c, "grad_image_hidden", ih.grad());
      EXPECT_MATCHES(c, "grad_seg_hidden", sh.grad().reshape(c.want("grad_seg_hidden").sizes()));
    }
    // Gradients flow into both inputs (never detached), and are finite.
    ASSERT_TRUE(ih.grad().defined() && sh.grad().defined());
    EXPECT_GT(ih.grad().abs().sum().item<double>(), 0.0);
    EXPECT_TRUE(torch::isfinite(ih.grad()).all().item<bool>());
  }
}

// SasP part of every read_forward case: per [SEG] conversation, the stored
// similarity through the points stage with the case's SasP settings (and its
// *_fixed twins where the reference's size bug changed them).
TEST(Sasp, ReadForwardConversations) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("read_forward")) {
    SCOPED_TRACE(c.name());
    const auto& cf = c.config();
    SaspConfig cfg = config_of(cf.at("sasp"), /*keep_origin_sm=*/false);  // the model's path
    cfg.target_size = cf.value("sasp_target_size", int64_t{336});
    int64_t long_side = cf.at("apply_coords_long_side").get<int64_t>();
    torch::Tensor orig = c.input("original_size"), sam_in = c.input("sam_input_size");
    int checked = 0;
    for (const auto& conv : cf.at("conversations")) {
      if (!conv.at("has_seg").get<bool>()) continue;
      std::string k = std::to_string(conv.at("conversation").get<int>());
      int64_t img = conv.at("image").get<int64_t>();
      for (std::string suffix : {"", "_fixed"}) {
        if (!suffix.empty() && !has_want(c, "points_c" + k + suffix)) continue;
        SCOPED_TRACE("conversation " + k + suffix);
        auto name = [&](const std::string& base) {
          return has_want(c, base + suffix) ? base + suffix : base;
        };
        auto [H, W] = shape_of(c.want(name("sasp_shape_c" + k)));
        rd::SaspResult r = rd::similarity_map_to_points(c.want("similarity_c" + k), H, W, cfg);
        EXPECT_MATCHES(c, name("labels_c" + k), r.labels);
        EXPECT_MATCHES(c, name("selected_indices_c" + k), r.selection.indices);
        EXPECT_MATCHES(c, name("points_discrete_c" + k), r.points_discrete);
        EXPECT_MATCHES(c, name("points_c" + k), r.points);
        // apply_coords uses the image's own size (even when SasP used a wrong one).
        int64_t oh = orig[img][0].item<int64_t>(), ow = orig[img][1].item<int64_t>();
        auto [sh, sw] = rd::sam_preprocess_shape(oh, ow, long_side);
        EXPECT_EQ(sh, sam_in[img][0].item<int64_t>());
        EXPECT_EQ(sw, sam_in[img][1].item<int64_t>());
        EXPECT_MATCHES(c, name("points_sam_c" + k), rd::points_to_sam_frame(r.points, oh, ow, sh, sw));
        if (suffix.empty()) EXPECT_EQ(r.points.size(0), conv.at("K").get<int64_t>());
        ++checked;
      }
    }
    EXPECT_GT(checked, 0);
  }
}

// The local-window D2C equals the reference's full-image sum: in float64 to
// 1e-9 px (only the dropped far weights differ), in float32 within the
// reference's own float32 error; gradients too.
TEST(Sasp, LocalWindowEqualsFullGrid) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sasp")) {
    SCOPED_TRACE(c.name());
    SaspConfig cfg = config_of(c.config());
    auto [H, W] = shape_of(c.input("shape"));
    rd::SaspResult r = rd::similarity_map_to_points(c.want("similarity"), H, W, cfg);
    int64_t radius = cfg.effective_window_radius();
    for (auto v : {SaspConfig::Variant::kCode, SaspConfig::Variant::kPaper}) {
      SaspConfig vc = cfg;
      vc.variant = v;
      int64_t rad = vc.effective_window_radius();
      SCOPED_TRACE(rd::to_string(v));
      torch::Tensor sm64 = r.origin_sm.detach().to(torch::kFloat64).requires_grad_(true);
      torch::Tensor full = rd::discrete_to_continuous_full_grid(sm64, r.points_discrete, v);
      torch::Tensor g_full = torch::autograd::grad({full.sum()}, {sm64})[0];
      torch::Tensor local = rd::discrete_to_continuous(sm64, r.points_discrete, rad, v);
      torch::Tensor g_local = torch::autograd::grad({local.sum()}, {sm64})[0];
      EXPECT_TRUE(tensors_close("float64 points local vs full", local, full, Tolerance{1e-9, 0}));
      EXPECT_TRUE(tensors_close("float64 grad local vs full", g_local, g_full, Tolerance{1e-10, 0}));
      // float32: the local window is the float64 truth rounded to float32 (within
      // ~1 ulp of the coordinate: 3e-5 px at 500 px) and at least as close to it
      // as the full float32 sum (which is the reference's own error).
      torch::Tensor sm32 = r.origin_sm.detach();
      torch::Tensor local32 = rd::discrete_to_continuous(sm32, r.points_discrete, rad, v);
      torch::Tensor full32 = rd::discrete_to_continuous_full_grid(sm32, r.points_discrete, v);
      EXPECT_TRUE(tensors_close("float32 local vs float64 full", local32, full, Tolerance{1e-6, 1.2e-7}));
      double err_local = (local32.to(torch::kFloat64) - full).abs().max().item<double>();
      double err_full = (full32.to(torch::kFloat64) - full).abs().max().item<double>();
      EXPECT_LE(err_local, err_full + 1e-6);
    }
    // The pipeline (origin_sm sampled in the window only) == local window on
    // the full map, to float32 rounding of the sampled map values.
    EXPECT_TRUE(tensors_close("pipeline == local on the full map",
                              r.points, rd::discrete_to_continuous(r.origin_sm, r.points_discrete, radius),
                              Tolerance{1e-6, 1.2e-7}));
    // The full-grid mode of the pipeline (window_radius < 0) gives the same points.
    SaspConfig fc = cfg;
    fc.window_radius = -1;
    rd::SaspResult rf = rd::similarity_map_to_points(c.want("similarity"), H, W, fc);
    EXPECT_MATCHES(c, "points", rf.points);
  }
}

// origin_sm sampled at chosen pixels equals the full H x W map there (the
// model's D2C path never builds the full map).
TEST(Sasp, OriginMapAtPixelsEqualsFullMap) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sasp")) {
    SCOPED_TRACE(c.name());
    auto [H, W] = shape_of(c.input("shape"));
    torch::Tensor sim = c.want("similarity");
    torch::Tensor full = rd::origin_similarity_map(sim, H, W, 336);
    // every pixel, as [H, W] index grids
    torch::Tensor ys = torch::arange(H).unsqueeze(1).expand({H, W}).contiguous();
    torch::Tensor xs = torch::arange(W).unsqueeze(0).expand({H, W}).contiguous();
    torch::Tensor at = rd::origin_similarity_map_at(sim, H, W, 336, ys, xs);
    EXPECT_TRUE(tensors_close("origin_sm at pixels vs full map", at, full, Tolerance{2e-7, 0}));
    if (has_want(c, "origin_sm")) EXPECT_MATCHES(c, "origin_sm", at);
    // gradients agree too
    torch::Tensor s1 = sim.clone().requires_grad_(true), s2 = sim.clone().requires_grad_(true);
    torch::Tensor sel_y = torch::randint(0, H, {200}), sel_x = torch::randint(0, W, {200});
    torch::Tensor wts = torch::rand({200});
    (rd::origin_similarity_map(s1, H, W, 336).index({sel_y, sel_x}) * wts).sum().backward();
    (rd::origin_similarity_map_at(s2, H, W, 336, sel_y, sel_x) * wts).sum().backward();
    EXPECT_TRUE(tensors_close("grad via sampled map", s2.grad(), s1.grad(), Tolerance{1e-6, 1e-5}));
  }
  EXPECT_THROW(rd::origin_similarity_map_at(torch::randn({576}), 10, 10, 336, torch::tensor({10}),
                                            torch::tensor({0})),
               rd::Error);
}

// Improvement over the reference (spec 10.5): a constant similarity map would
// be 0/0 = NaN there; here it gives finite points (all cells low-similarity
// negatives in raster order) and finite gradients.
TEST(Sasp, ConstantMapGivesFinitePoints) {
  const int64_t H = 480, W = 640;
  for (auto v : {SaspConfig::Variant::kCode, SaspConfig::Variant::kPaper}) {
    SaspConfig cfg;
    cfg.variant = v;
    cfg.keep_origin_sm = true;
    torch::Tensor ih = torch::full({576, 32}, 0.25).requires_grad_(true);
    torch::Tensor sh = torch::randn({1, 32}).requires_grad_(true);
    rd::SaspResult r = rd::similarity_as_points(ih, sh, H, W, cfg);
    ASSERT_EQ(r.points.size(0), cfg.num_points);
    EXPECT_TRUE(torch::isfinite(r.points).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(r.origin_sm).all().item<bool>());
    EXPECT_TRUE(r.points.select(1, 0).ge(0).all().item<bool>() && r.points.select(1, 0).le(W - 1).all().item<bool>());
    EXPECT_TRUE(r.points.select(1, 1).ge(0).all().item<bool>() && r.points.select(1, 1).le(H - 1).all().item<bool>());
    if (v == SaspConfig::Variant::kCode) {
      EXPECT_TRUE(r.labels.eq(0).all().item<bool>());
      // raster order of the real cells: the 12x16 grid has 2 padding columns each side
      EXPECT_EQ(r.selection.indices[0].item<int64_t>(), 2);
      EXPECT_EQ(r.selection.indices[1].item<int64_t>(), 3);
    }
    // A uniform map leaves interior points exactly at their discrete position.
    torch::Tensor d = (r.points - r.points_discrete.to(torch::kFloat32)).abs();
    EXPECT_LT(d.max().item<double>(), 1e-4);
    r.points.sum().backward();
    EXPECT_TRUE(torch::isfinite(ih.grad()).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(sh.grad()).all().item<bool>());
  }
}

TEST(Sasp, NonFiniteHiddenStatesAreAClearError) {
  torch::Tensor ih = torch::randn({576, 16});
  ih[3][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(rd::similarity_as_points(ih, torch::randn({16}), 100, 100), rd::Error);
}

// The paper's Algorithm 1: thresholds mu +/- eps*sigma over the real coarse
// cells, exp(-d) in D2C.
TEST(Sasp, PaperVariantSanity) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sasp")) {
    SCOPED_TRACE(c.name());
    SaspConfig cfg = config_of(c.config());
    cfg.variant = SaspConfig::Variant::kPaper;
    cfg.eps = 0.5;
    auto [H, W] = shape_of(c.input("shape"));
    rd::SaspResult r = rd::similarity_map_to_points(c.want("similarity"), H, W, cfg);
    torch::Tensor flat = r.grid.map.reshape(-1);
    torch::Tensor real = flat.masked_select(flat.ge(0)).to(torch::kFloat64);
    double mu = real.mean().item<double>(), sigma = real.std().item<double>();
    EXPECT_NEAR(r.selection.t_pos, mu + 0.5 * sigma, 1e-6);
    EXPECT_NEAR(r.selection.t_neg, mu - 0.5 * sigma, 1e-6);
    torch::Tensor vals = flat.index_select(0, r.selection.indices);
    torch::Tensor pos = r.labels.eq(1), neg = r.labels.eq(0), neu = r.labels.eq(-1);
    EXPECT_TRUE(vals.masked_select(pos).ge(static_cast<float>(r.selection.t_pos)).all().item<bool>());
    EXPECT_TRUE(vals.masked_select(neg).le(static_cast<float>(r.selection.t_neg)).all().item<bool>());
    EXPECT_TRUE(vals.masked_select(neg).ge(0).all().item<bool>());
    EXPECT_EQ(r.points.size(0), std::min<int64_t>(cfg.num_points, real.numel()));
    EXPECT_GT(pos.sum().item<int64_t>(), 0);  // mu + sigma/2 < max for any non-constant map
    EXPECT_TRUE(torch::isfinite(r.points).all().item<bool>());
    // exp(-d) pulls points farther than exp(-d^2) but stays sub-pixel.
    torch::Tensor moved = (r.points - r.points_discrete.to(torch::kFloat32)).abs();
    EXPECT_LT(moved.max().item<double>(), 1.0);
    // Positives sit on higher full-resolution similarity than negatives.
    if (neg.any().item<bool>()) {
      torch::Tensor pd = r.points_discrete;
      torch::Tensor at = r.origin_sm.index({pd.select(1, 1), pd.select(1, 0)});
      EXPECT_GT(at.masked_select(pos).mean().item<double>(), at.masked_select(neg).mean().item<double>());
    }
    (void)neu;
  }
}

TEST(Sasp, PadArithmeticFollowsPython) {
  EXPECT_EQ(rd::floor_div(-1, 2), -1);
  EXPECT_EQ(rd::floor_div(-3, 2), -2);
  EXPECT_EQ(rd::floor_div(3, 2), 1);
  EXPECT_EQ(rd::floor_div(0, 2), 0);
  rd::SaspPad p = rd::sasp_pad(333, 500, 336);  // 333 * (336/333) = 335.999... -> 335
  EXPECT_EQ(p.new_h, 335);
  EXPECT_EQ(p.pad_h, -1);
  EXPECT_EQ(p.new_w, 504);
  EXPECT_EQ(p.pad_w, 84);
  // A negative pad crops: the coarse map of a 47-pixel short side (12 level).
  rd::SaspPad q = rd::sasp_pad(47, 60, 12);
  EXPECT_EQ(q.pad_h, -1);
  rd::CoarseGrid g = rd::coarse_grid(torch::randn({576}), 47, 60, 2);
  EXPECT_EQ(g.h, 12 + 2 * q.pad_h);
  EXPECT_EQ(g.w, 12 + 2 * q.pad_w);
}

TEST(Sasp, FewerCellsThanPointsAndPerSegInputs) {
  // 4x4 tokens, down_sample 2 -> 2x2 cells (plus padding): K = 4 < 30.
  torch::Tensor ih = torch::randn({16, 8}), sh = torch::randn({8});
  rd::SaspResult r = rd::similarity_as_points(ih, sh, 40, 90, SaspConfig{});
  EXPECT_EQ(r.points.size(0), 4);
  EXPECT_TRUE(torch::isfinite(r.points).all().item<bool>());
  // num_points = 0 -> no points, still part of the graph.
  SaspConfig none;
  none.num_points = 0;
  torch::Tensor ih2 = torch::randn({16, 8}).requires_grad_(true);
  rd::SaspResult z = rd::similarity_as_points(ih2, sh, 40, 90, none);
  EXPECT_EQ(z.points.sizes(), (std::vector<int64_t>{0, 2}));
  EXPECT_NO_THROW(z.points.sum().backward());
  // Bad shapes are named.
  EXPECT_THROW(rd::similarity_as_points(torch::randn({15, 8}), sh, 40, 90), rd::Error);
  EXPECT_THROW(rd::similarity_as_points(ih, torch::randn({7}), 40, 90), rd::Error);
}

TEST(Sasp, Bf16HiddenStatesGiveFloat32Points) {
  torch::Tensor ih = torch::randn({576, 64}).to(torch::kBFloat16);
  torch::Tensor sh = torch::randn({64}).to(torch::kBFloat16);
  rd::SaspResult r = rd::similarity_as_points(ih, sh, 300, 400, SaspConfig{});
  EXPECT_EQ(r.points.scalar_type(), torch::kFloat32);
  EXPECT_EQ(r.points.size(0), 30);
  EXPECT_TRUE(torch::isfinite(r.points).all().item<bool>());
}

TEST(Sasp, ConfigFromYaml) {
  YAML::Node n = YAML::Load("num_points: 60\nt_pos: 0.6\ndown_sample: 1\nvariant: paper\neps: 0.7\n");
  rd::ConfigReader r(n, "test.yaml");
  SaspConfig c = SaspConfig::read(r);
  EXPECT_EQ(c.num_points, 60);
  EXPECT_DOUBLE_EQ(c.t_pos, 0.6);
  EXPECT_DOUBLE_EQ(c.t_neg, 0.2);
  EXPECT_EQ(c.down_sample, 1);
  EXPECT_EQ(c.target_size, 336);
  EXPECT_EQ(c.variant, SaspConfig::Variant::kPaper);
  EXPECT_DOUBLE_EQ(c.eps, 0.7);
  EXPECT_EQ(c.effective_window_radius(), 28);
  YAML::Node bad = YAML::Load("t_pos: 0.1\nt_neg: 0.5\n");
  rd::ConfigReader rb(bad, "bad.yaml");
  EXPECT_THROW(SaspConfig::read(rb), rd::Error);
  YAML::Node typo = YAML::Load("num_point: 3\n");
  rd::ConfigReader rt(typo, "typo.yaml");
  EXPECT_THROW(SaspConfig::read(rt), rd::Error);
  YAML::Node var = YAML::Load("variant: papr\n");
  rd::ConfigReader rv(var, "var.yaml");
  EXPECT_THROW(SaspConfig::read(rv), rd::Error);
}
