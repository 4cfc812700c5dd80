#include "model/llama_weights.h"

#include <regex>
#include <set>
#include <sstream>

#include "common/error.h"

namespace rd {
namespace {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os.str() + "]";
}

void list(std::ostringstream& os, const char* what, const std::vector<std::string>& v) {
  if (v.empty()) return;
  os << "\n  " << v.size() << " " << what << ":";
  for (const auto& k : v) os << "\n    " << k;
}

bool is_llama_key(const std::string& k) {
  static const std::regex re(R"(^(lm_head\.|model\.(embed_tokens|norm|layers\.\d+)\.).*)");
  return std::regex_match(k, re);
}

}  // namespace

std::string LlamaLoadReport::describe() const {
  std::ostringstream os;
  list(os, "missing", missing);
  list(os, "unexpected", unexpected);
  list(os, "shape/dtype mismatched", mismatched);
  return os.str();
}

LlamaLoadReport load_llama_weights(LlamaForCausalLMImpl& model, const StateDict& sd,
                                   const std::string& source, const LlamaLoadOptions& opt) {
  LlamaLoadReport r;
  torch::NoGradGuard no_grad;
  const LlamaConfig& c = model.config();
  std::set<std::string> used;
  for (auto& p : model.named_parameters(/*recurse=*/true)) {
    const std::string& key = p.key();
    torch::Tensor dst = p.value();
    auto it = sd.find(key);
    if (it == sd.end()) {
      if (!(opt.lora_optional && is_lora_parameter(key))) r.missing.push_back(key);
      continue;
    }
    used.insert(key);
    const torch::Tensor& src = it->second;
    if (src.sizes() != dst.sizes() || !src.is_floating_point()) {
      r.mismatched.push_back(key + ": file " + shape_str(src.sizes()) + " " +
                             std::string(c10::toString(src.scalar_type())) + " vs model " +
                             shape_str(dst.sizes()) + " " + std::string(c10::toString(dst.scalar_type())));
      continue;
    }
    dst.copy_(src);
    r.loaded.push_back(key);
  }
  static const std::regex inv_freq_re(R"(^model\.layers\.(\d+)\.self_attn\.rotary_emb\.inv_freq$)");
  torch::Tensor want_inv;
  for (const auto& [key, t] : sd) {
    if (used.count(key)) continue;
    std::smatch m;
    if (std::regex_match(key, m, inv_freq_re) && std::stoll(m[1]) < c.num_hidden_layers) {
      if (!want_inv.defined()) want_inv = rotary_inv_freq(c.head_dim(), c.rope_theta, torch::kCPU);
      const torch::Tensor got = t.to(torch::kCPU, torch::kFloat32);
      READ_CHECK(got.sizes() == want_inv.sizes() && torch::allclose(got, want_inv, 1e-5, 1e-7), source,
                 ": ", key, " differs from 1/", c.rope_theta, "^(2i/", c.head_dim(),
                 ") (scaled or different RoPE? not supported)");
      r.ignored.push_back(key);
      continue;
    }
    if (opt.ignore_non_llama_keys && !is_llama_key(key)) {
      r.ignored.push_back(key);
      continue;
    }
    r.unexpected.push_back(key);
  }
  if (opt.strict && !r.ok()) fail("LLaMA weights from ", source, " do not match the model", r.describe());
  return r;
}

}  // namespace rd
