#include "model/weight_loading.h"

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

}  // namespace

std::string LoadReport::describe() const {
  std::ostringstream os;
  list(os, "missing", missing);
  list(os, "unexpected", unexpected);
  list(os, "shape/dtype mismatched", mismatched);
  return os.str();
}

void LoadReport::check(const std::string& what, const std::string& source) const {
  if (!ok()) fail(what, " from ", source, ": weights do not match the model", describe());
}

void LoadReport::merge(const LoadReport& o) {
  loaded.insert(loaded.end(), o.loaded.begin(), o.loaded.end());
  missing.insert(missing.end(), o.missing.begin(), o.missing.end());
  unexpected.insert(unexpected.end(), o.unexpected.begin(), o.unexpected.end());
  mismatched.insert(mismatched.end(), o.mismatched.begin(), o.mismatched.end());
  ignored.insert(ignored.end(), o.ignored.begin(), o.ignored.end());
}

void copy_into(const std::string& key, const torch::Tensor& src, torch::Tensor& dst, LoadReport& r) {
  torch::NoGradGuard no_grad;
  bool dtype_ok = src.scalar_type() == dst.scalar_type() || (src.is_floating_point() && dst.is_floating_point());
  if (src.sizes() != dst.sizes() || !dtype_ok) {
    r.mismatched.push_back(key + ": file " + shape_str(src.sizes()) + " " +
                           std::string(c10::toString(src.scalar_type())) + " vs model " + shape_str(dst.sizes()) +
                           " " + std::string(c10::toString(dst.scalar_type())));
    return;
  }
  dst.copy_(src);
  r.loaded.push_back(key);
}

LoadReport load_into(torch::nn::Module& module, const StateDict& sd, const LoadOptions& opt) {
  LoadReport r;
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  auto take = [&](const std::string& name, torch::Tensor& dst) {
    const std::string key = opt.prefix + name;
    auto it = sd.find(key);
    if (it == sd.end()) {
      if (!(opt.optional && opt.optional(name))) r.missing.push_back(key);
      return;
    }
    used.insert(key);
    copy_into(key, it->second, dst, r);
  };
  for (auto& p : module.named_parameters(/*recurse=*/true)) take(p.key(), p.value());
  for (auto& b : module.named_buffers(/*recurse=*/true)) take(b.key(), b.value());
  for (const auto& [key, t] : sd) {
    if (key.compare(0, opt.prefix.size(), opt.prefix) != 0 || used.count(key)) continue;
    if (opt.ignore && opt.ignore(key.substr(opt.prefix.size())))
      r.ignored.push_back(key);
    else
      r.unexpected.push_back(key);
  }
  return r;
}

StateDict module_state(const torch::nn::Module& module, const std::string& prefix) {
  StateDict out;
  for (const auto& p : module.named_parameters(true)) out[prefix + p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(true)) out[prefix + b.key()] = b.value().detach();
  return out;
}

}  // namespace rd
