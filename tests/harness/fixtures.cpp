#include "tests/harness/fixtures.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "checkpoints/formats/safetensors.h"
#include "common/error.h"

namespace rd::testing {
namespace fs = std::filesystem;
using nlohmann::json;

std::string fixtures_root() {
  if (const char* env = std::getenv("READ_FIXTURES"); env && *env) return env;
  fs::path base = READ_SOURCE_DIR;  // the project root, fixed at configure time
  return (base / ".." / "shared" / "fixtures").lexically_normal().string();
}

std::string source_dir() { return READ_SOURCE_DIR; }

FixtureCase::FixtureCase(std::string dir, json spec)
    : dir_(std::move(dir)), name_(fs::path(dir_).filename().string()), spec_(std::move(spec)) {}

std::string FixtureCase::path(const std::string& relative) const {
  return (fs::path(dir_) / relative).lexically_normal().string();
}

bool FixtureCase::has_file(const std::string& role) const {
  return spec_.contains("files") && spec_["files"].contains(role);
}

std::string FixtureCase::file(const std::string& role) const {
  READ_CHECK(has_file(role), dir_, "/case.json: no files.", role);
  return path(spec_["files"][role].get<std::string>());
}

const StateDict& FixtureCase::inputs() const {
  if (!inputs_loaded_) inputs_ = load_safetensors(file("inputs")), inputs_loaded_ = true;
  return inputs_;
}

const StateDict& FixtureCase::expected() const {
  if (!expected_loaded_) expected_ = load_safetensors(file("expected")), expected_loaded_ = true;
  return expected_;
}

torch::Tensor FixtureCase::input(const std::string& name) const {
  auto it = inputs().find(name);
  READ_CHECK(it != inputs().end(), name_, ": no input tensor '", name, "'");
  return it->second;
}

torch::Tensor FixtureCase::want(const std::string& name) const {
  auto it = expected().find(name);
  READ_CHECK(it != expected().end(), name_, ": no expected tensor '", name, "'");
  return it->second;
}

static Tolerance parse_tolerance(const json& t, Tolerance base) {
  if (t.contains("exact") && t["exact"].is_boolean() && t["exact"].get<bool>()) base.exact = true;
  if (t.contains("atol") && t["atol"].is_number()) base.atol = t["atol"].get<double>();
  if (t.contains("rtol") && t["rtol"].is_number()) base.rtol = t["rtol"].get<double>();
  return base;
}

Tolerance FixtureCase::tolerance(const std::string& tensor) const {
  Tolerance tol;
  if (!spec_.contains("tolerance")) return Tolerance{0, 0, true};
  const json& t = spec_["tolerance"];
  tol = parse_tolerance(t, tol);
  if (t.contains("per_tensor") && t["per_tensor"].contains(tensor)) {
    Tolerance per = parse_tolerance(t["per_tensor"][tensor], Tolerance{tol.atol, tol.rtol, false});
    return per;
  }
  return tol;
}

std::vector<FixtureCase> cases_of_kind(const std::string& kind) {
  std::vector<FixtureCase> out;
  fs::path root = fixtures_root();
  if (!fs::is_directory(root)) {
    ADD_FAILURE() << "fixture folder not found: " << root << " (set READ_FIXTURES)";
    return out;
  }
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(root))
    if (d.is_directory() && fs::exists(d.path() / "case.json")) dirs.push_back(d.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    std::ifstream f(d / "case.json");
    json spec = json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (spec.is_discarded()) {
      ADD_FAILURE() << (d / "case.json") << ": invalid JSON";
      continue;
    }
    if (spec.value("kind", "") == kind) out.emplace_back(d.string(), std::move(spec));
  }
  if (out.empty()) ADD_FAILURE() << "no fixture case of kind '" << kind << "' under " << root;
  return out;
}

void for_each_case(const std::string& kind, const std::function<void(const FixtureCase&)>& fn) {
  for (const auto& c : cases_of_kind(kind)) {
    SCOPED_TRACE(c.name());
    try {
      fn(c);
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name() << ": " << e.what();
    }
  }
}

::testing::AssertionResult tensors_close(const std::string& what, const torch::Tensor& got0,
                                         const torch::Tensor& want0, const Tolerance& tol) {
  torch::Tensor got = got0.detach().to(torch::kCPU), want = want0.detach().to(torch::kCPU);
  if (got.sizes() != want.sizes()) {
    std::ostringstream os;
    os << what << ": shape " << got.sizes() << " != expected " << want.sizes();
    return ::testing::AssertionFailure() << os.str();
  }
  if (want.numel() == 0) return ::testing::AssertionSuccess();
  bool integral = !want.is_floating_point() || !got.is_floating_point();
  torch::Tensor g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  torch::Tensor diff = (g - w).abs();
  torch::Tensor bad;
  if (tol.exact || integral)
    bad = g.ne(w) & ~(g.isnan() & w.isnan());
  else
    bad = diff.gt(tol.atol + tol.rtol * w.abs()) | (g.isnan() != w.isnan());
  int64_t nbad = bad.sum().item<int64_t>();
  if (nbad == 0) return ::testing::AssertionSuccess();
  torch::Tensor d = diff.nan_to_num(std::numeric_limits<double>::infinity());
  int64_t worst = d.flatten().argmax().item<int64_t>();
  std::vector<int64_t> idx;
  for (int64_t r = worst, i = w.dim() - 1; i >= 0; --i) {
    idx.insert(idx.begin(), r % w.size(i));
    r /= w.size(i);
  }
  double max_abs = d.flatten()[worst].item<double>();
  double max_rel = (diff / w.abs().clamp_min(1e-12)).max().item<double>();
  std::ostringstream os;
  os << what << ": " << nbad << " of " << w.numel() << " elements outside tolerance ("
     << (tol.exact || integral ? std::string("exact") :
         "atol " + std::to_string(tol.atol) + ", rtol " + std::to_string(tol.rtol))
     << "); max abs err " << max_abs << ", max rel err " << max_rel << ", worst at [";
  for (size_t i = 0; i < idx.size(); ++i) os << (i ? "," : "") << idx[i];
  os << "] got " << g.flatten()[worst].item<double>() << " want " << w.flatten()[worst].item<double>();
  return ::testing::AssertionFailure() << os.str();
}

::testing::AssertionResult matches_expected(const FixtureCase& c, const std::string& name,
                                            const torch::Tensor& got) {
  return tensors_close(c.name() + "/" + name, got, c.want(name), c.tolerance(name));
}

}  // namespace rd::testing
