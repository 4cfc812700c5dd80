// safetensors: every fixture file loads; write/read round-trips bit for bit.
#include <filesystem>
#include <fstream>

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

// ---- malformed files: always rd::Error with a message, never a crash ----
#include "common/error.h"

namespace {
std::string st_file(const std::string& header_json, const std::string& data, int64_t header_len = -1) {
  uint64_t n = header_len >= 0 ? static_cast<uint64_t>(header_len) : header_json.size();
  std::string b;
  for (int i = 0; i < 8; ++i) b += static_cast<char>((n >> (8 * i)) & 0xff);
  return b + header_json + data;
}
std::string st_error(const std::string& bytes) {
  fs::path p = fs::temp_directory_path() / ("read_st_bad_" + std::to_string(::getpid()) + ".safetensors");
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), bytes.size());
  }
  std::string msg = "no error";
  try {
    rd::load_safetensors(p.string());
  } catch (const rd::Error& e) {
    msg = e.what();
  }
  fs::remove(p);
  return msg;
}
}  // namespace

TEST(Safetensors, MalformedHeadersAreClearErrors) {
  const std::string d16(16, '\0');
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << msg;
  };
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", d16)), "no error"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,20]}})", d16)),
                  "out of range"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,4]}})", d16)),
                  "out of range"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})", d16)),
                  "overlaps"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", d16)),
                  "gap before tensor 'b'"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d16)),
                  "trailing bytes"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", d16)),
                  "expected 12"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", d16)),
                  "unsupported dtype 'F33'"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", d16)),
                  "non-negative"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296]},)"
                                   R"("data_offsets":[0,16]})", d16)), "tensor 'a'"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[1099511627775,1099511627775]}, "x":1})", d16)),
                  "tensor 'a'"));
  EXPECT_TRUE(has(st_error(st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", d16)),
                  "not valid JSON"));
  EXPECT_TRUE(has(st_error(st_file(R"([1,2])", d16)), "not a JSON object"));
  EXPECT_TRUE(has(st_error(st_file(std::string(200000, '[') + std::string(200000, ']'), d16)), "not a JSON object"));
  EXPECT_TRUE(has(st_error(st_file(std::string(200000, '['), d16)), "not valid JSON"));
  EXPECT_TRUE(has(st_error(st_file("{}", d16, int64_t{1} << 40)), "exceeds the limit"));
  EXPECT_TRUE(has(st_error(st_file("{}", d16, 1000)), "runs past the end"));
  EXPECT_TRUE(has(st_error("abc"), "not a safetensors file"));
  EXPECT_TRUE(has(st_error(st_file(R"({"__metadata__":{"a":1}})", "")), "__metadata__['a'] is not a string"));
}

TEST(Safetensors, EveryTruncationIsAnError) {
  rd::StateDict sd{{"a", torch::randn({5, 3})}, {"b", torch::arange(4)}};
  fs::path p = fs::temp_directory_path() / ("read_st_trunc_" + std::to_string(::getpid()) + ".safetensors");
  rd::save_safetensors(p.string(), sd);
  std::ifstream f(p, std::ios::binary);
  std::string full((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  fs::remove(p);
  for (size_t n = 0; n < full.size(); ++n) EXPECT_NE(st_error(full.substr(0, n)), "no error") << n;
  EXPECT_EQ(st_error(full), "no error");
}

TEST(Safetensors, SaveLeavesNoTemporaryAndReportsUnwritablePaths) {
  fs::path dir = fs::temp_directory_path() / ("read_st_dir_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  rd::save_safetensors((dir / "w.safetensors").string(), {{"w", torch::ones({3})}});
  EXPECT_TRUE(fs::exists(dir / "w.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "w.safetensors.tmp"));
  try {
    rd::save_safetensors((dir / "missing" / "w.safetensors").string(), {{"w", torch::ones({3})}});
    FAIL();
  } catch (const rd::Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/w.safetensors.tmp: cannot create"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
