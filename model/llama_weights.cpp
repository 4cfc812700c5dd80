#include "model/llama_weights.h"

#include <regex>
#include <set>

#include "checkpoints/formats/load_state_dict.h"
#include "common/error.h"

namespace rd {
namespace {

bool is_llama_key(const std::string& k) {
  static const std::regex re(R"(^(lm_head\.|model\.(embed_tokens|norm|layers\.\d+)\.).*)");
  return std::regex_match(k, re);
}

// Copies the tensors of one dict (the whole checkpoint or one shard) that
// name a parameter; everything else is classified for the report.
class Loader {
 public:
  Loader(LlamaForCausalLMImpl& model, const LlamaLoadOptions& opt)
      : model_(model), opt_(opt), params_(model.named_parameters(/*recurse=*/true)) {}

  void add(const StateDict& sd, const std::string& source) {
    torch::NoGradGuard no_grad;
    const LlamaConfig& c = model_.config();
    static const std::regex inv_freq_re(R"(^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$)");
    for (const auto& [key, src] : sd) {
      if (const torch::Tensor* dst_p = params_.find(key)) {
        READ_CHECK(!seen_.count(key), source, ": key ", key, " appears in two files");
        seen_.insert(key);
        torch::Tensor dst = *dst_p;
        copy_into(key, src, dst, r_);
        continue;
      }
      std::smatch m;
      if (std::regex_match(key, m, inv_freq_re) && std::stoll(m[1]) < c.num_hidden_layers) {
        if (!want_inv_.defined()) want_inv_ = rotary_inv_freq(c.head_dim(), c.rope_theta, torch::kCPU);
        const torch::Tensor got = src.to(torch::kCPU, torch::kFloat32);
        READ_CHECK(got.sizes() == want_inv_.sizes() && torch::allclose(got, want_inv_, 1e-5, 1e-7), source,
                   ": ", key, " differs from 1/", c.rope_theta, "^(2i/", c.head_dim(),
                   ") (scaled or different RoPE? not supported)");
        r_.ignored.push_back(key);
      } else if (opt_.ignore_non_llama_keys && !is_llama_key(key)) {
        r_.ignored.push_back(key);
      } else {
        r_.unexpected.push_back(key);
      }
    }
  }

  LoadReport finish(const std::string& source) {
    for (const auto& p : params_) {
      if (seen_.count(p.key())) continue;
      if (!(opt_.lora_optional && is_lora_parameter(p.key()))) r_.missing.push_back(p.key());
    }
    if (opt_.strict) r_.check("LLaMA", source);
    return r_;
  }

 private:
  LlamaForCausalLMImpl& model_;
  const LlamaLoadOptions& opt_;
  torch::OrderedDict<std::string, torch::Tensor> params_;
  std::set<std::string> seen_;
  torch::Tensor want_inv_;
  LoadReport r_;
};

}  // namespace

LoadReport load_llama_weights(LlamaForCausalLMImpl& model, const StateDict& sd,
                              const std::string& source, const LlamaLoadOptions& opt) {
  Loader l(model, opt);
  l.add(sd, source);
  return l.finish(source);
}

LoadReport load_llama_checkpoint(LlamaForCausalLMImpl& model, const std::string& path,
                                 const LlamaLoadOptions& opt) {
  Loader l(model, opt);
  for_each_weight_file(find_weight_files(path),
                       [&](const std::string& file, StateDict& tensors) { l.add(tensors, file); });
  return l.finish(path);
}

LlamaForCausalLM llama_from_pretrained(const std::string& folder, torch::Dtype dtype,
                                       const LlamaLoadOptions& opt) {
  LlamaForCausalLM m(LlamaConfig::from_file(folder));
  m->to(dtype);
  load_llama_checkpoint(*m, folder, opt);
  return m;
}

}  // namespace rd
