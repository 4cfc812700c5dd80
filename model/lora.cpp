#include "model/lora.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "common/error.h"

namespace rd {

bool LoraConfig::targets(const std::string& name) const {
  for (const auto& e : exclude)
    if (name.find(e) != std::string::npos) return false;
  if (!target_regex.empty()) return std::regex_match(name, std::regex(target_regex));
  for (const auto& t : target_modules)
    if (name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0) return true;
  return false;
}

void LoraConfig::validate(const std::string& source) const {
  READ_CHECK(r > 0, source, ": LoRA r must be positive (got ", r, ")");
  READ_CHECK(dropout >= 0 && dropout < 1, source, ": LoRA dropout must be in [0, 1) (got ", dropout, ")");
  READ_CHECK(!target_modules.empty() || !target_regex.empty(), source, ": LoRA has no target_modules");
}

LoraLinearImpl::LoraLinearImpl(int64_t in_features, int64_t out_features)
    : in_(in_features), out_(out_features) {
  READ_CHECK(in_features > 0 && out_features > 0, "LoraLinear: sizes must be positive (", in_features,
             " -> ", out_features, ")");
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  // torch.nn.Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)).
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
}

torch::Tensor LoraLinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight);
  if (!has_lora() || merged_) return y;
  // peft 0.4 Linear.forward: x is cast to lora_A's dtype; result += ... * scaling.
  torch::Tensor xa = x.to(lora_A->weight.scalar_type());
  torch::Tensor delta = lora_B(lora_A(lora_dropout(xa))) * scaling_;
  return y + delta.to(y.scalar_type());
}

void LoraLinearImpl::enable_lora(int64_t r, double alpha, double dropout) {
  READ_CHECK(!merged_, "LoraLinear: cannot replace a merged adapter; unmerge first");
  READ_CHECK(r > 0, "LoraLinear: r must be positive");
  auto opts = torch::TensorOptions().dtype(weight.scalar_type()).device(weight.device());
  auto A = torch::nn::Linear(torch::nn::LinearOptions(in_, r).bias(false));
  auto B = torch::nn::Linear(torch::nn::LinearOptions(r, out_).bias(false));
  A->to(opts.device(), opts.dtype().toScalarType());
  B->to(opts.device(), opts.dtype().toScalarType());
  {
    torch::NoGradGuard g;
    // peft 0.4 reset_lora_parameters.
    torch::nn::init::kaiming_uniform_(A->weight, std::sqrt(5.0));
    torch::nn::init::zeros_(B->weight);
  }
  if (has_lora()) {
    lora_A = replace_module("lora_A", A);
    lora_B = replace_module("lora_B", B);
    lora_dropout = replace_module("lora_dropout", torch::nn::Dropout(dropout));
  } else {
    lora_A = register_module("lora_A", A);
    lora_B = register_module("lora_B", B);
    lora_dropout = register_module("lora_dropout", torch::nn::Dropout(dropout));
  }
  lora_dropout->train(is_training());
  r_ = r;
  scaling_ = alpha / static_cast<double>(r);
}

torch::Tensor LoraLinearImpl::delta_weight() const {
  READ_CHECK(has_lora(), "LoraLinear: no adapter");
  return (torch::matmul(lora_B->weight, lora_A->weight) * scaling_).to(weight.scalar_type());
}

void LoraLinearImpl::merge() {
  if (!has_lora() || merged_) return;
  torch::NoGradGuard g;
  weight.add_(delta_weight());
  merged_ = true;
}

void LoraLinearImpl::unmerge() {
  if (!has_lora() || !merged_) return;
  torch::NoGradGuard g;
  weight.sub_(delta_weight());
  merged_ = false;
}

void LoraLinearImpl::resize_out_features(int64_t out, double std) {
  READ_CHECK(!has_lora(), "LoraLinear: resize before adding a LoRA adapter");
  READ_CHECK(out > 0, "LoraLinear: output size must be positive");
  torch::NoGradGuard g;
  torch::Tensor w = torch::empty({out, in_}, weight.options());
  int64_t keep = std::min(out, out_);
  w.narrow(0, 0, keep).copy_(weight.narrow(0, 0, keep));
  if (out > keep) w.narrow(0, keep, out - keep).normal_(0.0, std);
  weight.mutable_grad() = torch::Tensor();  // an old-shape grad cannot accumulate
  weight.set_data(w);
  out_ = out;
}

std::vector<std::pair<std::string, LoraLinear>> lora_layers(torch::nn::Module& root) {
  std::vector<std::pair<std::string, LoraLinear>> out;
  for (const auto& m : root.named_modules("", /*include_self=*/false)) {
    auto l = std::dynamic_pointer_cast<LoraLinearImpl>(m.value());
    if (l && l->has_lora()) out.emplace_back(m.key(), LoraLinear(l));
  }
  return out;
}

std::vector<std::string> apply_lora(torch::nn::Module& root, const LoraConfig& config) {
  config.validate("LoRA config");
  std::vector<std::string> names;
  for (const auto& m : root.named_modules("", /*include_self=*/false)) {
    auto l = std::dynamic_pointer_cast<LoraLinearImpl>(m.value());
    if (!l || !config.targets(m.key())) continue;
    l->enable_lora(config.r, config.alpha, config.dropout);
    names.push_back(m.key());
  }
  READ_CHECK(!names.empty(), "LoRA: no Linear layer matches target_modules (",
             config.target_regex.empty() ? "list" : config.target_regex, ")");
  std::sort(names.begin(), names.end());
  return names;
}

void merge_lora(torch::nn::Module& root) {
  for (auto& [name, l] : lora_layers(root)) l->merge();
}

void unmerge_lora(torch::nn::Module& root) {
  for (auto& [name, l] : lora_layers(root)) l->unmerge();
}

bool is_lora_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos ||
         name.rfind("lora_A.", 0) == 0 || name.rfind("lora_B.", 0) == 0;
}

int64_t set_lora_trainable(torch::nn::Module& root, const std::vector<std::string>& also_trainable) {
  int64_t n = 0;
  for (auto& p : root.named_parameters(true)) {
    bool train = is_lora_parameter(p.key());
    for (const auto& pre : also_trainable) train = train || p.key().rfind(pre, 0) == 0;
    p.value().set_requires_grad(train);
    if (train) n += p.value().numel();
  }
  return n;
}

}  // namespace rd
