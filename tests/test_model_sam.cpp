// SAM parity with the reference (READ's segment_anything copy) on every
// `sam` fixture case: every stored intermediate and output tensor within its
// per-tensor tolerance; plus loading diagnostics, gradients w.r.t. points and
// text_embeds, and the parameter-count helper.
#include <set>

#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"
#include "model/sam.h"
#include "model/sam_size.h"
#include "tests/harness/fixtures.h"

namespace {
using nlohmann::json;
using rd::sam::Sam;
using rd::sam::SamConfig;
using rd::testing::FixtureCase;

SamConfig config_of(const FixtureCase& c) {
  const json& j = c.config();
  SamConfig s;
  s.img_size = j.at("img_size");
  s.patch_size = j.at("patch_size");
  s.encoder_embed_dim = j.at("encoder_embed_dim");
  s.encoder_depth = j.at("encoder_depth");
  s.encoder_num_heads = j.at("encoder_num_heads");
  s.encoder_global_attn_indexes = j.at("encoder_global_attn_indexes").get<std::vector<int64_t>>();
  s.window_size = j.at("window_size");
  s.mlp_ratio = j.at("mlp_ratio");
  s.encoder_layernorm_eps = j.at("encoder_layernorm_eps");
  s.prompt_embed_dim = j.at("prompt_embed_dim");
  s.mask_in_chans = j.at("mask_in_chans");
  s.num_multimask_outputs = j.at("num_multimask_outputs");
  s.decoder_transformer_depth = j.at("decoder_transformer_depth");
  s.decoder_num_heads = j.at("decoder_num_heads");
  s.decoder_mlp_dim = j.at("decoder_mlp_dim");
  s.decoder_attention_downsample_rate = j.at("decoder_attention_downsample_rate");
  s.iou_head_depth = j.at("iou_head_depth");
  s.iou_head_hidden_dim = j.at("iou_head_hidden_dim");
  // Settings the C++ model fixes as SAM does: the case must agree.
  EXPECT_EQ(j.at("encoder_out_chans").get<int64_t>(), s.prompt_embed_dim);
  EXPECT_TRUE(j.at("encoder_qkv_bias").get<bool>());
  EXPECT_TRUE(j.at("encoder_use_abs_pos").get<bool>());
  EXPECT_TRUE(j.at("encoder_use_rel_pos").get<bool>());
  EXPECT_EQ(j.at("image_embedding_size").at(0).get<int64_t>(), s.image_embedding_size());
  return s;
}

// The real torch.save file (an OrderedDict with _metadata, like sam_vit_h_4b8939.pth).
rd::StateDict weights_of(const FixtureCase& c) { return rd::load_state_dict(c.file("weights")); }

std::pair<int64_t, int64_t> hw(const torch::Tensor& t) {
  return {t[0].item<int64_t>(), t[1].item<int64_t>()};
}

Sam loaded_sam(const FixtureCase& c) {
  Sam sam(config_of(c));
  sam->eval();
  rd::sam::SamLoadReport r = sam->load_state_dict(weights_of(c), "", c.file("weights"));
  EXPECT_TRUE(r.resized.empty());
  EXPECT_EQ(r.keys.loaded.size(), c.config().at("state_dict_keys").size());
  return sam;
}

TEST(SamParity, EveryCaseEveryTensor) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    Sam sam = loaded_sam(c);
    std::set<std::string> compared;
    auto check = [&](const std::string& name, const torch::Tensor& got) {
      EXPECT_MATCHES(c, name, got);
      compared.insert(name);
    };
    torch::NoGradGuard no_grad;
    auto trace = sam->image_encoder->forward_trace(c.input("image"));
    check("encoder.patch_embed", trace.patch_embed);
    for (size_t i = 0; i < trace.blocks.size(); ++i) {
      const std::string name = "encoder.block" + std::to_string(i);
      if (c.expected().count(name)) check(name, trace.blocks[i]);
    }
    check("image_embeddings", trace.image_embeddings);
    {  // with autograd on, the relative positions are added out of place
      torch::AutoGradMode grad(true);
      EXPECT_MATCHES(c, "image_embeddings", sam->image_encoder->forward(c.input("image")));
    }
    check("dense_pe", sam->prompt_encoder->get_dense_pe());
    const auto input_hw = hw(c.input("input_size")), original_hw = hw(c.input("original_size"));

    for (const json& set : c.config().at("prompt_sets")) {
      const std::string p = set.at("name").get<std::string>() + ".";
      SCOPED_TRACE(p);
      torch::Tensor points, labels, text;
      if (set.at("has_points").get<bool>()) {
        points = c.input(p + "point_coords");
        labels = c.input(p + "point_labels");
      }
      if (set.at("has_text_embeds").get<bool>()) text = c.input(p + "text_embeds");
      rd::sam::SamPrediction out =
          sam->predict(trace.image_embeddings, points, labels, text,
                       set.at("multimask_output").get<bool>(), input_hw, original_hw);
      EXPECT_EQ(out.prompt.sparse.size(1), set.at("num_sparse_tokens").get<int64_t>());
      check(p + "sparse_embeddings", out.prompt.sparse);
      check(p + "dense_embeddings", out.prompt.dense);
      check(p + "transformer_queries", out.decoder.transformer_queries);
      check(p + "transformer_keys", out.decoder.transformer_keys);
      check(p + "low_res_masks", out.decoder.low_res_masks);
      check(p + "iou_predictions", out.decoder.iou_predictions);
      check(p + "masks", out.masks);
    }
    // Nothing the reference stored is left unchecked.
    for (const auto& kv : c.expected())
      EXPECT_TRUE(compared.count(kv.first)) << "not compared: " << kv.first;
  }
}

// READ backpropagates into the point coordinates (through the Fourier PE) and
// into text_embeds: the gradient must exist and agree with finite differences
// (in float64), and vanish for not-a-point (-1) labels whose PE is replaced.
TEST(SamGradients, PointsAndTextEmbedsMatchFiniteDifferences) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    Sam sam = loaded_sam(c);
    sam->to(torch::kFloat64);
    // A fixed input here (a standalone Sam trains its encoder, so detach).
    const torch::Tensor emb = sam->image_embeddings(c.input("image").to(torch::kFloat64)).detach();
    for (const json& set : c.config().at("prompt_sets")) {
      if (!set.at("has_points").get<bool>() || !set.at("has_text_embeds").get<bool>()) continue;
      const std::string p = set.at("name").get<std::string>() + ".";
      SCOPED_TRACE(p);
      const torch::Tensor labels = c.input(p + "point_labels");
      const torch::Tensor pts0 = c.input(p + "point_coords").to(torch::kFloat64);
      const torch::Tensor txt0 = c.input(p + "text_embeds").to(torch::kFloat64);
      torch::manual_seed(7);
      const torch::Tensor weight = torch::randn({1, 1, 7, 9}, torch::kFloat64);
      auto loss = [&](const torch::Tensor& pts, const torch::Tensor& txt) {
        auto out = sam->predict(emb, pts, labels, txt, false, {7 * 4, 9 * 4}, {7, 9});
        return (out.masks * weight).sum();
      };
      torch::Tensor pts = pts0.clone().requires_grad_(true),
                    txt = txt0.clone().requires_grad_(true);
      loss(pts, txt).backward();
      ASSERT_TRUE(pts.grad().defined() && txt.grad().defined());
      const torch::Tensor not_a_point = (labels == -1).unsqueeze(-1).expand_as(pts0);
      EXPECT_EQ(pts.grad().masked_select(not_a_point).abs().max().item<double>(), 0.0);
      EXPECT_GT(pts.grad().masked_select(~not_a_point).abs().max().item<double>(), 0.0);
      torch::NoGradGuard no_grad;
      const double h = 1e-6;
      auto fd = [&](const torch::Tensor& base, bool is_points, int64_t flat) {
        torch::Tensor a = base.clone(), b = base.clone();
        a.view(-1)[flat] += h;
        b.view(-1)[flat] -= h;
        double la = is_points ? loss(a, txt0).item<double>() : loss(pts0, a).item<double>();
        double lb = is_points ? loss(b, txt0).item<double>() : loss(pts0, b).item<double>();
        return (la - lb) / (2 * h);
      };
      for (int64_t i = 0; i < pts0.numel(); ++i) {
        const double g = pts.grad().view(-1)[i].item<double>();
        EXPECT_NEAR(fd(pts0, true, i), g, 1e-5 * std::max(1.0, std::abs(g)))
            << "point coordinate " << i;
      }
      for (int64_t i = 0; i < txt0.numel(); i += 7) {
        const double g = txt.grad().view(-1)[i].item<double>();
        EXPECT_NEAR(fd(txt0, false, i), g, 1e-5 * std::max(1.0, std::abs(g)))
            << "text_embeds " << i;
      }
    }
  }
}

// The trainer computes in bf16: the whole model converted to bf16 runs (the
// Fourier PE in the matrix's dtype, masks postprocessed in fp32) and stays
// close to the fp32 reference masks.
TEST(SamBf16, WholeModelInBf16IsCloseToTheReference) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    Sam sam = loaded_sam(c);
    sam->to(torch::kBFloat16);
    const torch::Tensor emb = sam->image_embeddings(c.input("image").to(torch::kBFloat16));
    EXPECT_EQ(emb.scalar_type(), torch::kBFloat16);
    const auto input_hw = hw(c.input("input_size")), original_hw = hw(c.input("original_size"));
    for (const json& set : c.config().at("prompt_sets")) {
      const std::string p = set.at("name").get<std::string>() + ".";
      SCOPED_TRACE(p);
      torch::Tensor points, labels, text;
      if (set.at("has_points").get<bool>()) {
        points = c.input(p + "point_coords");  // fp32, as SasP produces them
        labels = c.input(p + "point_labels");
      }
      if (set.at("has_text_embeds").get<bool>())
        text = c.input(p + "text_embeds").to(torch::kBFloat16);
      torch::NoGradGuard no_grad;
      auto out = sam->predict(emb, points, labels, text, set.at("multimask_output").get<bool>(),
                              input_hw, original_hw);
      EXPECT_EQ(out.masks.scalar_type(), torch::kFloat32);
      const torch::Tensor want = c.want(p + "masks");
      const double scale = want.abs().max().item<double>();
      const double err = (out.masks - want).abs().max().item<double>();
      EXPECT_LT(err, 0.1 * scale) << "bf16 masks max error " << err << " (max |mask| " << scale
                                  << ")";
    }
  }
}

// Missing, unexpected and mis-shaped keys are all reported by name.
TEST(SamLoading, ReportsEveryBadKeyByName) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    rd::StateDict sd = weights_of(c);
    sd.erase("mask_decoder.iou_token.weight");
    sd["mask_decoder.bogus.weight"] = torch::zeros({1});
    sd["image_encoder.neck.0.weight"] = torch::zeros({3, 3, 1, 1});
    Sam sam(config_of(c));
    try {
      sam->load_state_dict(sd, "", "edited.pth");
      ADD_FAILURE() << "bad weights loaded without an error";
    } catch (const rd::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("edited.pth"), std::string::npos) << m;
      EXPECT_NE(m.find("1 missing:\n    mask_decoder.iou_token.weight"), std::string::npos) << m;
      EXPECT_NE(m.find("1 unexpected:\n    mask_decoder.bogus.weight"), std::string::npos) << m;
      EXPECT_NE(m.find("image_encoder.neck.0.weight: file [3, 3, 1, 1]"), std::string::npos) << m;
    }
  }
}

// READ checkpoints store SAM under `model.visual_model.` beside other keys;
// loading with the prefix ignores keys outside it and gives the same model.
TEST(SamLoading, PrefixedKeysLoadTheSameWeights) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    rd::StateDict plain = weights_of(c), prefixed;
    for (const auto& kv : plain)
      prefixed["model.visual_model." + kv.first] = kv.second.to(torch::kBFloat16);
    prefixed["model.norm.weight"] = torch::ones({4});
    Sam sam(config_of(c));
    sam->load_state_dict(prefixed, "model.visual_model.", "read.bin");
    rd::StateDict got = sam->state_dict();
    ASSERT_EQ(got.size(), plain.size());
    for (const auto& kv : plain) {
      ASSERT_TRUE(got.count(kv.first)) << kv.first;
      EXPECT_EQ(got[kv.first].scalar_type(), torch::kFloat32) << kv.first;
      EXPECT_TRUE(torch::equal(got[kv.first], kv.second.to(torch::kBFloat16).to(torch::kFloat32)))
          << kv.first;
    }
  }
}

// Weights of one image size run at another: pos_embed and the global blocks'
// rel_pos tables are taken at the checkpoint's size and resampled at run
// time; at the checkpoint's own size nothing changes.
TEST(SamLoading, OtherImageSizeResamplesPositionTables) {
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) {
    SCOPED_TRACE(c.name());
    SamConfig cfg = config_of(c);
    SamConfig bigger = cfg;
    bigger.img_size = cfg.img_size + 2 * cfg.patch_size;
    Sam sam(bigger);
    rd::sam::SamLoadReport r = sam->load_state_dict(weights_of(c), "", c.file("weights"));
    // pos_embed + 2 rel_pos tables per global block
    EXPECT_EQ(r.resized.size(), 1 + 2 * cfg.encoder_global_attn_indexes.size());
    torch::Tensor emb =
        sam->image_embeddings(torch::randn({1, 3, bigger.img_size, bigger.img_size}));
    const int64_t g = bigger.image_embedding_size();
    EXPECT_EQ(emb.sizes(), (std::vector<int64_t>{1, cfg.prompt_embed_dim, g, g}));
    EXPECT_TRUE(torch::isfinite(emb).all().item<bool>());
  }
}

TEST(SamWindows, PartitionUnpartitionRoundTripsWithPadding) {
  torch::Tensor x = torch::randn({2, 7, 5, 3});
  auto [w, padded] = rd::sam::window_partition(x, 3);
  EXPECT_EQ(padded, std::make_pair(int64_t(9), int64_t(6)));
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{2 * 3 * 2, 3, 3, 3}));
  // window (b=1, row 2, col 1) holds rows 6..8, cols 3..5 (zero padded)
  torch::Tensor win = w[1 * 6 + 2 * 2 + 1];
  EXPECT_TRUE(torch::equal(win.slice(0, 0, 1).slice(1, 0, 2), x[1].slice(0, 6, 7).slice(1, 3, 5)));
  EXPECT_EQ(win.slice(0, 1).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(rd::sam::window_unpartition(w, 3, padded, {7, 5}), x));
}

// Counted from the formulas == counted from the modules.
TEST(SamSize, ParameterCountsMatchTheModules) {
  std::vector<SamConfig> configs{SamConfig::vit_b()};
  for (const FixtureCase& c : rd::testing::cases_of_kind("sam")) configs.push_back(config_of(c));
  for (const SamConfig& cfg : configs) {
    SCOPED_TRACE(cfg.encoder_embed_dim);
    Sam sam(cfg);
    auto count = [](const torch::nn::Module& m) {
      int64_t n = 0;
      for (const auto& p : m.named_parameters(true)) n += p.value().numel();
      for (const auto& b : m.named_buffers(true)) n += b.value().numel();
      return n;
    };
    rd::sam::SamSize s = rd::sam::sam_size(cfg);
    EXPECT_EQ(s.image_encoder, count(*sam->image_encoder));
    EXPECT_EQ(s.prompt_encoder, count(*sam->prompt_encoder));
    EXPECT_EQ(s.mask_decoder, count(*sam->mask_decoder));
    EXPECT_EQ(s.total(), count(*sam));
  }
}

// The released checkpoints: 93,735,472 (ViT-B) and 641,090,608 (ViT-H)
// parameters, plus the prompt encoder's 2 x 128 Fourier matrix buffer.
TEST(SamSize, PresetsMatchTheReleasedCheckpoints) {
  EXPECT_EQ(rd::sam::sam_size(SamConfig::vit_b()).total(), 93735472 + 256);
  EXPECT_EQ(rd::sam::sam_size(SamConfig::vit_h()).total(), 641090608 + 256);
  EXPECT_EQ(rd::sam::sam_size(SamConfig::vit_h()).mask_decoder, 4058340);
  EXPECT_THROW(SamConfig::preset("vit_x"), rd::Error);
}

}  // namespace
