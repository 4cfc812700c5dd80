// safetensors: every fixture file loads; write/read round-trips bit for bit.
#include <filesystem>

#include "checkpoints/formats/safetensors.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;
using rd::testing::fixtures_root;

TEST(Safetensors, EveryFixtureFileLoadsAndRoundTrips) {
  int files = 0;
  fs::path tmp = fs::temp_directory_path() / ("read_st_" + std::to_string(::getpid()) + ".safetensors");
  for (const auto& e : fs::recursive_directory_iterator(fixtures_root())) {
    if (e.path().extension() != ".safetensors") continue;
    SCOPED_TRACE(e.path().string());
    rd::StateDict sd = rd::load_safetensors(e.path().string());
    rd::save_safetensors(tmp.string(), sd);
    rd::StateDict back = rd::load_safetensors(tmp.string());
    ASSERT_EQ(back.size(), sd.size());
    for (const auto& [name, t] : sd) {
      ASSERT_TRUE(back.count(name)) << name;
      EXPECT_EQ(back[name].scalar_type(), t.scalar_type()) << name;
      EXPECT_TRUE(torch::equal(back[name], t)) << name;
    }
    ++files;
  }
  fs::remove(tmp);
  EXPECT_GT(files, 10);
}

TEST(Safetensors, AllDtypesRoundTrip) {
  rd::StateDict sd;
  sd["f32"] = torch::randn({3, 4});
  sd["f16"] = torch::randn({5}).to(torch::kFloat16);
  sd["bf16"] = torch::randn({2, 2, 2}).to(torch::kBFloat16);
  sd["i64"] = torch::arange(7, torch::kInt64);
  sd["i32"] = torch::arange(6, torch::kInt32).reshape({2, 3});
  sd["u8"] = torch::arange(9, torch::kUInt8);
  sd["bool"] = torch::rand({4}).gt(0.5);
  sd["empty"] = torch::zeros({0, 3});
  sd["scalar"] = torch::tensor(3.5f);
  fs::path tmp = fs::temp_directory_path() / ("read_st2_" + std::to_string(::getpid()) + ".safetensors");
  rd::save_safetensors(tmp.string(), sd, {{"format", "pt"}});
  rd::SafetensorsFile f(tmp.string());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const auto& [name, t] : sd) {
    torch::Tensor b = f.tensor(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(b.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(b, t)) << name;
  }
  fs::remove(tmp);
}
