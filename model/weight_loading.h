// Loading a StateDict into a torch::nn::Module by the module's own
// parameter and buffer names (which mirror the reference checkpoints), with a
// report of every missing, unexpected and shape-mismatched key by name.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"

namespace rd {

struct LoadReport {
  std::vector<std::string> loaded;      // module names that received a tensor
  std::vector<std::string> missing;     // module names with no key in the file
  std::vector<std::string> unexpected;  // file keys under the prefix that match nothing
  std::vector<std::string> mismatched;  // "key: file [..] vs model [..]"
  std::vector<std::string> ignored;     // file keys skipped on purpose (legacy buffers, other models' keys)

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  // Multi-line description naming every bad key (empty when ok()).
  std::string describe() const;
  // Throws rd::Error "<what> (<source>): N missing: a, b; ..." unless ok().
  void check(const std::string& what, const std::string& source) const;
  // Appends another report (e.g. of a sub-module loaded with another prefix).
  void merge(const LoadReport& other);
};

struct LoadOptions {
  std::string prefix;  // file key = prefix + module name
  // File keys under the prefix to skip silently (legacy buffers and the like);
  // gets the key without the prefix.
  std::function<bool(const std::string&)> ignore;
  // Module names that may legitimately be absent from the file (they keep
  // their current values and are not reported as missing).
  std::function<bool(const std::string&)> optional;
};

// Copies src into dst (no autograd) and records `key` as loaded, or records
// it as mismatched ("key: file [..] dtype vs model [..] dtype") when the
// shapes differ or the dtypes are neither equal nor both floating.
void copy_into(const std::string& key, const torch::Tensor& src, torch::Tensor& dst, LoadReport& report);

// Copies sd[prefix + name] into every parameter and buffer `name` of `module`
// (without autograd; floating tensors are converted to the module's dtype,
// integer/bool dtypes must match). Keys outside the prefix are not looked at.
LoadReport load_into(torch::nn::Module& module, const StateDict& sd, const LoadOptions& options = {});

// Every parameter and buffer of `module` as prefix + name -> tensor (detached).
StateDict module_state(const torch::nn::Module& module, const std::string& prefix = "");

}  // namespace rd
