#include "model/sam.h"

#include <set>
#include <sstream>

#include "common/error.h"

namespace rd::sam {
namespace F = torch::nn::functional;

SamImpl::SamImpl(SamConfig config) : config_(std::move(config)) {
  config_.validate();
  image_encoder = register_module("image_encoder", ImageEncoderViT(config_.image_encoder_options()));
  prompt_encoder = register_module("prompt_encoder", PromptEncoder(config_.prompt_encoder_options()));
  mask_decoder = register_module("mask_decoder", MaskDecoder(config_.mask_decoder_options()));
}

namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Tables the forward pass resamples to the size it needs: the absolute
// position embedding [1, gh, gw, C] (bicubic) and the relative position
// tables [2S-1, head_dim] (linear). Only the spatial extent may differ.
bool resizable(const std::string& name, const torch::Tensor& dst, const torch::Tensor& src) {
  if (src.dim() != dst.dim()) return false;
  if (name == "image_encoder.pos_embed")
    return src.size(0) == 1 && src.size(3) == dst.size(3);
  if (ends_with(name, ".attn.rel_pos_h") || ends_with(name, ".attn.rel_pos_w"))
    return src.size(1) == dst.size(1) && src.size(0) > 0;
  return false;
}

}  // namespace

SamLoadReport SamImpl::load_state_dict(const StateDict& sd, const std::string& prefix,
                                       const std::string& source) {
  torch::NoGradGuard no_grad;
  SamLoadReport report;
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> used;
  auto take = [&](const std::string& name, torch::Tensor& dst) {
    const std::string key = prefix + name;
    auto it = sd.find(key);
    if (it == sd.end()) {
      missing.push_back(key);
      return;
    }
    used.insert(key);
    const torch::Tensor& src = it->second;
    if (src.is_floating_point() != dst.is_floating_point() ||
        (!src.is_floating_point() && src.scalar_type() != dst.scalar_type())) {
      mismatched.push_back(key + ": dtype " + std::string(c10::toString(src.scalar_type())) + " vs model " +
                           std::string(c10::toString(dst.scalar_type())));
      return;
    }
    if (src.sizes() != dst.sizes()) {
      if (!resizable(name, dst, src)) {
        mismatched.push_back(key + ": shape " + shape_str(src.sizes()) + " in the file vs " +
                             shape_str(dst.sizes()) + " in the model");
        return;
      }
      dst.set_data(src.to(dst.options()).clone());
      report.resized.push_back(key + " " + shape_str(src.sizes()));
      ++report.loaded;
      return;
    }
    dst.copy_(src);
    ++report.loaded;
  };
  for (auto& p : named_parameters(/*recurse=*/true)) take(p.key(), p.value());
  for (auto& b : named_buffers(/*recurse=*/true)) take(b.key(), b.value());
  for (const auto& kv : sd)
    if (kv.first.compare(0, prefix.size(), prefix) == 0 && !used.count(kv.first)) unexpected.push_back(kv.first);

  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream os;
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "\n  " << v.size() << " " << what << ":";
      for (const auto& k : v) os << "\n    " << k;
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("mismatched", mismatched);
    fail("SAM weights from ", source, (prefix.empty() ? "" : " (prefix '" + prefix + "')"),
         " do not match the model (encoder dim ", config_.encoder_embed_dim, ", depth ",
         config_.encoder_depth, ", img_size ", config_.img_size, "):", os.str());
  }
  return report;
}

StateDict SamImpl::state_dict(const std::string& prefix) const {
  StateDict out;
  for (const auto& p : named_parameters(true)) out[prefix + p.key()] = p.value().detach();
  for (const auto& b : named_buffers(true)) out[prefix + b.key()] = b.value().detach();
  return out;
}

torch::Tensor SamImpl::image_embeddings(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  return image_encoder->forward(images);
}

SamPrediction SamImpl::predict(const torch::Tensor& image_embedding, const torch::Tensor& points,
                               const torch::Tensor& labels, const torch::Tensor& text_embeds,
                               bool multimask_output, std::pair<int64_t, int64_t> input_hw,
                               std::pair<int64_t, int64_t> original_hw) {
  READ_CHECK(image_embedding.dim() == 4 && image_embedding.size(0) == 1,
             "SAM predict: image_embedding must be one image [1, D, h, w], got ", image_embedding.sizes());
  SamPrediction p;
  p.prompt = prompt_encoder->forward(points, labels, text_embeds);
  p.decoder = mask_decoder->forward(image_embedding, prompt_encoder->get_dense_pe(), p.prompt.sparse,
                                    p.prompt.dense, multimask_output);
  p.masks = postprocess_masks(p.decoder.low_res_masks, input_hw, original_hw);
  return p;
}

torch::Tensor SamImpl::postprocess_masks(const torch::Tensor& masks, std::pair<int64_t, int64_t> input_hw,
                                         std::pair<int64_t, int64_t> original_hw) const {
  READ_CHECK(masks.dim() == 4, "SAM postprocess_masks: masks must be [n, m, h, w], got ", masks.sizes());
  const int64_t S = config_.img_size;
  READ_CHECK(input_hw.first > 0 && input_hw.second > 0 && input_hw.first <= S && input_hw.second <= S,
             "SAM postprocess_masks: input size (", input_hw.first, ", ", input_hw.second,
             ") must lie inside img_size ", S);
  READ_CHECK(original_hw.first > 0 && original_hw.second > 0, "SAM postprocess_masks: bad original size (",
             original_hw.first, ", ", original_hw.second, ")");
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
