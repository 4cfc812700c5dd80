#include "model/sam.h"

#include "model/frozen.h"

#include <sstream>

#include "common/error.h"
#include "common/logging.h"

namespace rd::sam {
namespace F = torch::nn::functional;

SamImpl::SamImpl(SamConfig config) : config_(std::move(config)) {
  config_.validate();
  image_encoder =
      register_module("image_encoder", ImageEncoderViT(config_.image_encoder_options()));
  prompt_encoder =
      register_module("prompt_encoder", PromptEncoder(config_.prompt_encoder_options()));
  mask_decoder = register_module("mask_decoder", MaskDecoder(config_.mask_decoder_options()));
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tables the forward pass resamples to the size it needs: the absolute
// position embedding [1, gh, gw, C] (bicubic) and the relative position
// tables [2S-1, head_dim] (linear). Only the spatial extent may differ.
bool resizable(const std::string& name, const torch::Tensor& dst, const torch::Tensor& src) {
  if (src.dim() != dst.dim() || !src.is_floating_point()) return false;
  if (name == "image_encoder.pos_embed") return src.size(0) == 1 && src.size(3) == dst.size(3);
  if (ends_with(name, ".attn.rel_pos_h") || ends_with(name, ".attn.rel_pos_w"))
    return src.size(1) == dst.size(1) && src.size(0) > 0;
  return false;
}

}  // namespace

SamLoadReport SamImpl::load_state_dict(const StateDict& sd, const std::string& prefix,
                                       const std::string& source) {
  SamLoadReport r;
  {
    // Position tables of another grid/window size: take the checkpoint's size
    // first, so that the copy below fits and the forward pass resamples.
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters(/*recurse=*/true)) {
      auto it = sd.find(prefix + p.key());
      if (it == sd.end() || it->second.sizes() == p.value().sizes() ||
          !resizable(p.key(), p.value(), it->second))
        continue;
      std::ostringstream os;
      os << it->first << " " << it->second.sizes() << " (model " << p.value().sizes() << ")";
      p.value().set_data(torch::empty(it->second.sizes(), p.value().options()));
      r.resized.push_back(os.str());
    }
  }
  LoadOptions opt;
  opt.prefix = prefix;
  r.keys = load_into(*this, sd, opt);
  std::ostringstream what;
  what << "SAM weights (encoder dim " << config_.encoder_embed_dim << ", depth "
       << config_.encoder_depth << ", img_size " << config_.img_size
       << (prefix.empty() ? "" : ", prefix '" + prefix + "'") << ")";
  r.keys.check(what.str(), source);
  for (const auto& s : r.resized) LOG(INFO) << "SAM: " << s << " is resampled at run time";
  return r;
}

StateDict SamImpl::state_dict(const std::string& prefix) const {
  return module_state(*this, prefix);
}

torch::Tensor SamImpl::image_embeddings(const torch::Tensor& images) {
  // Frozen in READ: no autograd unless a config trains the encoder.
  torch::AutoGradMode grad(torch::GradMode::is_enabled() && any_requires_grad(*image_encoder));
  return image_encoder->forward(images);
}

SamPrediction SamImpl::predict(const torch::Tensor& image_embedding, const torch::Tensor& points,
                               const torch::Tensor& labels, const torch::Tensor& text_embeds,
                               bool multimask_output, std::pair<int64_t, int64_t> input_hw,
                               std::pair<int64_t, int64_t> original_hw) {
  READ_CHECK(image_embedding.dim() == 4 && image_embedding.size(0) == 1,
             "SAM predict: image_embedding must be one image [1, D, h, w], got ",
             image_embedding.sizes());
  SamPrediction p;
  p.prompt = prompt_encoder->forward(points, labels, text_embeds);
  p.decoder = mask_decoder->forward(image_embedding, prompt_encoder->get_dense_pe(),
                                    p.prompt.sparse, p.prompt.dense, multimask_output);
  p.masks = postprocess_masks(p.decoder.low_res_masks, input_hw, original_hw);
  return p;
}

torch::Tensor SamImpl::postprocess_masks(const torch::Tensor& masks,
                                         std::pair<int64_t, int64_t> input_hw,
                                         std::pair<int64_t, int64_t> original_hw) const {
  READ_CHECK(masks.dim() == 4, "SAM postprocess_masks: masks must be [n, m, h, w], got ",
             masks.sizes());
  const int64_t S = config_.img_size;
  READ_CHECK(
      input_hw.first > 0 && input_hw.second > 0 && input_hw.first <= S && input_hw.second <= S,
      "SAM postprocess_masks: input size (", input_hw.first, ", ", input_hw.second,
      ") must lie inside img_size ", S);
  READ_CHECK(original_hw.first > 0 && original_hw.second > 0,
             "SAM postprocess_masks: bad original size (", original_hw.first, ", ",
             original_hw.second, ")");
  auto bilinear = [](const torch::Tensor& x, int64_t h, int64_t w) {
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{h, w})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
  };
  // READ's copy starts with masks.float(): half/bf16 logits are postprocessed
  // in fp32. float64 stays float64 (widening, not narrowing, is the intent).
  torch::Tensor m = masks.scalar_type() == torch::kFloat64 ? masks : masks.to(torch::kFloat32);
  m = bilinear(m, S, S);
  m = m.slice(2, 0, input_hw.first).slice(3, 0, input_hw.second);
  return bilinear(m, original_hw.first, original_hw.second);
}

}  // namespace rd::sam
