// Fixture harness: finds the reference fixture folder (READ_FIXTURES, else
// ../shared/fixtures beside the project), iterates every case of a kind, and
// compares tensors with the case's tolerance, reporting the tensor, the max
// absolute and relative error and the worst index on failure.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoints/formats/state_dict.h"

namespace rd::testing {

std::string fixtures_root();
// The project root (configs/, launch/ ...), fixed at configure time.
std::string source_dir();

struct Tolerance {
  double atol = 0, rtol = 0;
  bool exact = false;
};

class FixtureCase {
 public:
  FixtureCase(std::string dir, nlohmann::json spec);
  const std::string& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  const nlohmann::json& spec() const { return spec_; }
  const nlohmann::json& config() const { return spec_.at("config"); }
  std::string path(const std::string& relative) const;  // dir/relative
  std::string file(const std::string& role) const;      // dir/files[role]
  bool has_file(const std::string& role) const;
  const StateDict& inputs() const;    // files.inputs, loaded once
  const StateDict& expected() const;  // files.expected, loaded once
  torch::Tensor input(const std::string& name) const;
  torch::Tensor want(const std::string& name) const;
  Tolerance tolerance(const std::string& tensor) const;  // per_tensor, else case-wide

 private:
  std::string dir_, name_;
  nlohmann::json spec_;
  mutable StateDict inputs_, expected_;
  mutable bool inputs_loaded_ = false, expected_loaded_ = false;
};

// Every case folder whose case.json has this kind, sorted by name. Fails the
// calling test (ADD_FAILURE) when there are none: a parity test never passes
// vacuously.
std::vector<FixtureCase> cases_of_kind(const std::string& kind);

// Runs fn on every case of the kind, each under SCOPED_TRACE(case name); an
// exception fails the test naming the case and the error, and the remaining
// cases still run.
void for_each_case(const std::string& kind, const std::function<void(const FixtureCase&)>& fn);

// |got - want| <= atol + rtol |want| elementwise (exact: equality, integer
// tensors always exact). Shapes must match; dtypes are compared as double.
::testing::AssertionResult tensors_close(const std::string& what, const torch::Tensor& got,
                                         const torch::Tensor& want, const Tolerance& tol);

// Compares `got` with the case's expected tensor `name` at its tolerance.
::testing::AssertionResult matches_expected(const FixtureCase& c, const std::string& name,
                                            const torch::Tensor& got);

}  // namespace rd::testing

// EXPECT_MATCHES(case, "tensor", got)
#define EXPECT_MATCHES(c, name, got) EXPECT_TRUE(::rd::testing::matches_expected(c, name, got))
