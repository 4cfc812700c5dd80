// read_ckpt inspect and the read_ckpt subcommand dispatcher: listings of every
// fixture weight file/folder agree with load_state_dict; --stats prints
// min/max/mean; usage errors, help and rd::Error map to exit codes 2, 0, 1.
#include <filesystem>
#include <sstream>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/ckpt_inspect.h"
#include "checkpoints/formats/load_state_dict.h"
#include "checkpoints/formats/safetensors.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;

namespace {
int cli(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr) {
  args.insert(args.begin(), "read_ckpt");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = rd::run_ckpt_cli(static_cast<int>(argv.size()), argv.data(), {rd::kCkptInspect});
  std::string o = ::testing::internal::GetCapturedStdout(), e = ::testing::internal::GetCapturedStderr();
  if (out) *out = o;
  if (err) *err = e;
  return rc;
}
}  // namespace

TEST(CkptInspect, EveryFixtureCheckpointListsAllTensors) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(rd::testing::fixtures_root())) {
    std::string ext = e.path().extension().string();
    bool weights = e.is_regular_file() && (ext == ".safetensors" || ext == ".bin" || ext == ".pth");
    bool folder = e.is_directory() && (fs::exists(e.path() / "model.safetensors.index.json") ||
                                       fs::exists(e.path() / "pytorch_model.bin") ||
                                       fs::exists(e.path() / "adapter_model.bin"));
    if (!weights && !folder) continue;
    SCOPED_TRACE(e.path().string());
    rd::StateDict sd = rd::load_state_dict(e.path().string());
    std::ostringstream out;
    EXPECT_EQ(rd::inspect_checkpoint(e.path().string(), {}, out), sd.size());
    uint64_t bytes = 0;
    for (const auto& [name, t] : sd) {
      bytes += t.numel() * t.element_size();
      EXPECT_NE(out.str().find("\n" + name + " "), std::string::npos) << name;
    }
    EXPECT_NE(out.str().find("total: " + std::to_string(sd.size()) + " tensors, " + std::to_string(bytes) + " bytes"),
              std::string::npos)
        << out.str();
    ++n;
  }
  EXPECT_GT(n, 10);
}

TEST(CkptInspect, StatsAndCli) {
  fs::path file = fs::temp_directory_path() / ("read_inspect_" + std::to_string(::getpid()) + ".safetensors");
  rd::save_safetensors(file.string(), {{"w", torch::tensor({-1.0f, 2.0f, 5.0f})},
                                       {"n", torch::tensor({1.0f, std::nanf("")})},
                                       {"ids", torch::arange(6, torch::kInt64).reshape({2, 3})}});
  std::string out, err;
  EXPECT_EQ(cli({"inspect", "--stats", file.string()}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\nw    F32   [3]     12 B  min -1  max 5  mean 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nids  I64   [2, 3]  48 B  min 0  max 5  mean 2.5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("non-finite 1"), std::string::npos) << out;
  EXPECT_NE(out.find("total: 3 tensors, 68 bytes"), std::string::npos) << out;

  EXPECT_EQ(cli({}, &out), 2);
  EXPECT_EQ(cli({"--help"}, &out), 0);
  EXPECT_NE(out.find("inspect PATH"), std::string::npos) << out;
  EXPECT_EQ(cli({"inspect", "--help"}, &out), 0);
  EXPECT_NE(out.find("--stats"), std::string::npos) << out;
  EXPECT_EQ(cli({"frobnicate"}, nullptr, &err), 2);
  EXPECT_NE(err.find("unknown subcommand 'frobnicate'"), std::string::npos) << err;
  EXPECT_EQ(cli({"inspect"}, nullptr, &err), 2);
  EXPECT_NE(err.find("expected PATH, got 0"), std::string::npos) << err;
  EXPECT_EQ(cli({"inspect", "a", "b"}, nullptr, &err), 2);
  EXPECT_EQ(cli({"inspect", "--bogus", "a"}, nullptr, &err), 2);
  EXPECT_NE(err.find("unknown flag '--bogus'"), std::string::npos) << err;
  EXPECT_EQ(cli({"inspect", "--logtostderr", "a"}, nullptr, &err), 2);  // glog's flag, not inspect's
  EXPECT_EQ(cli({"inspect", "/nonexistent/x"}, nullptr, &err), 1);
  EXPECT_NE(err.find("read_ckpt inspect: error: /nonexistent/x: no such file"), std::string::npos) << err;
  fs::remove(file);
}
