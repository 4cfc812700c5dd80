// The whole READ training forward + backward against every read_forward
// fixture case: losses, [SEG] states, SasP per conversation, points in the
// SAM frame, mask logits, and the gradients of every trainable parameter
// (the *_fixed twins where the reference's image-size bug changed them).
#include <regex>

#include "common/error.h"
#include "model/lora.h"
#include "model/read_model.h"
#include "model/read_model_loading.h"
#include "tests/harness/fixtures.h"
#include "tests/model_read_util.h"

using nlohmann::json;
using rd::testing::cases_of_kind;
using rd::testing::FixtureCase;

namespace {

// The corrected (fixed) reference value where the size bug changed it.
std::string name_of(const FixtureCase& c, const std::string& name) {
  return c.expected().count(name + "_fixed") ? name + "_fixed" : name;
}
#define EXPECT_FIXED(c, name, got) EXPECT_MATCHES(c, name_of(c, name), got)

// "base_model.model.X" (PEFT) -> our "X".
std::string our_name(const std::string& ref) {
  static const std::string peft = "base_model.model.";
  return ref.rfind(peft, 0) == 0 ? ref.substr(peft.size()) : ref;
}

}  // namespace

TEST(ReadForward, EveryCaseMatchesReference) {
  for (const auto& c : cases_of_kind("read_forward")) {
    SCOPED_TRACE(c.name());
    rd::ReadForCausalLM m = rd::testing::read_model_of(c);
    rd::ReadBatch b = rd::testing::read_batch_of(c);
    rd::ReadForwardOutput out = m->forward_batch(b);

    EXPECT_FIXED(c, "loss", out.losses.loss);
    EXPECT_FIXED(c, "ce_loss", out.losses.ce_loss);
    EXPECT_FIXED(c, "mask_bce_loss", out.losses.mask_bce_loss);
    EXPECT_FIXED(c, "mask_dice_loss", out.losses.mask_dice_loss);
    EXPECT_FIXED(c, "mask_loss", out.losses.mask_loss);
    EXPECT_FIXED(c, "seg_token_mask", out.seg_token_mask);
    EXPECT_FIXED(c, "seg_hidden_states", out.seg_hidden_states);
    EXPECT_FIXED(c, "pred_embeddings", out.pred_embeddings);
    for (const auto& s : out.segs) {
      const std::string cc = "_c" + std::to_string(s.conversation);
      EXPECT_FIXED(c, "similarity" + cc, s.sasp.similarity);
      EXPECT_FIXED(c, "labels" + cc, s.sasp.labels);
      EXPECT_FIXED(c, "points" + cc, s.sasp.points);
      EXPECT_FIXED(c, "points_discrete" + cc, s.sasp.points_discrete);
      EXPECT_FIXED(c, "selected_indices" + cc, s.sasp.selection.indices);
      EXPECT_FIXED(c, "sasp_shape" + cc, torch::tensor({s.height, s.width}, torch::kLong));
      EXPECT_FIXED(c, "points_sam" + cc, s.points_sam);
    }
    int64_t expected_segs = 0;
    for (const auto& kv : c.expected())
      if (std::regex_match(kv.first, std::regex("points_c\\d+"))) ++expected_segs;
    EXPECT_EQ(int64_t(out.segs.size()), expected_segs);
    for (size_t i = 0; i < out.pred_masks.size(); ++i)
      EXPECT_FIXED(c, "pred_masks_" + std::to_string(i), out.pred_masks[i]);

    // Gradients: d mask_loss / d LoRA (both paths: [SEG] embedding and SasP
    // points), then d loss / d every trainable parameter.
    std::map<std::string, torch::Tensor> params;
    for (const auto& p : m->named_parameters()) params[p.key()] = p.value();
    std::vector<std::string> lora_names;
    std::vector<torch::Tensor> lora;
    for (const auto& [k, t] : params)
      if (rd::is_lora_parameter(k)) lora_names.push_back(k), lora.push_back(t);
    ASSERT_FALSE(lora.empty());
    std::vector<torch::Tensor> g_mask = torch::autograd::grad({out.losses.mask_loss}, lora, {}, true);
    int64_t compared = 0;
    for (size_t i = 0; i < lora.size(); ++i) {
      const std::string ref = "grad_mask.base_model.model." + lora_names[i];
      if (!c.expected().count(ref)) continue;
      EXPECT_FIXED(c, ref, g_mask[i]);
      ++compared;
    }
    EXPECT_EQ(compared, int64_t(lora.size()));
    out.losses.loss.backward();
    compared = 0;
    for (const auto& kv : c.expected()) {
      static const std::regex grad_re("grad\\.(.*)");
      std::smatch mt;
      if (!std::regex_match(kv.first, mt, grad_re) || kv.first.size() > 6 &&
                                                          kv.first.compare(kv.first.size() - 6, 6, "_fixed") == 0)
        continue;
      const std::string name = our_name(mt[1].str());
      ASSERT_TRUE(params.count(name)) << "reference gradient of unknown parameter " << name;
      ASSERT_TRUE(params[name].requires_grad()) << name << " should be trainable";
      torch::Tensor g = params[name].grad();
      if (!g.defined()) g = torch::zeros_like(params[name]);  // PyTorch: None (stored as zeros)
      EXPECT_FIXED(c, kv.first, g);
      ++compared;
    }
    EXPECT_EQ(compared, int64_t(m->trainable_parameters().size()));
    // Frozen parameters get no gradient.
    for (const auto& [k, t] : params)
      if (!rd::is_read_trainable(k)) {
        EXPECT_FALSE(t.requires_grad()) << k;
        EXPECT_FALSE(t.grad().defined()) << k;
      }
  }
}

TEST(ReadForward, MaskLossReachesLoraThroughSegEmbeddingAndPoints) {
  for (const auto& c : cases_of_kind("read_forward")) {
    SCOPED_TRACE(c.name());
    rd::ReadForCausalLM m = rd::testing::read_model_of(c);
    rd::ReadBatch b = rd::testing::read_batch_of(c);
    std::vector<torch::Tensor> lora;
    for (const auto& p : m->named_parameters())
      if (rd::is_lora_parameter(p.key())) lora.push_back(p.value());
    auto flat_grad = [&](bool detach) {
      m->detach_sasp_points = detach;
      rd::ReadForwardOutput out = m->forward_batch(b);
      std::vector<torch::Tensor> g = torch::autograd::grad({out.losses.mask_loss}, lora);
      std::vector<torch::Tensor> flat;
      for (auto& t : g) flat.push_back(t.flatten());
      return torch::cat(flat);
    };
    torch::Tensor full = flat_grad(false), seg_only = flat_grad(true);
    const double norm = full.norm().item<double>();
    const double share = (full - seg_only).norm().item<double>() / norm;
    std::cout << c.name() << ": share of the mask-loss LoRA gradient through the SasP points " << share << "\n";
    EXPECT_GT(seg_only.norm().item<double>(), 0.5 * norm);  // the main path: the [SEG] embedding
    EXPECT_GT(share, 1e-3);                                  // and a real share through the points
    EXPECT_LT(share, 0.5);
    if (!c.config().at("size_bug_affects_output").get<bool>()) {
      const double want = c.config().at("mask_loss_lora_grad_share_through_points").get<double>();
      EXPECT_NEAR(share, want, 0.05 * want);
    }
  }
}
