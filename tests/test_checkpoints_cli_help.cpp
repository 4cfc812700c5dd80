// Every read_ckpt subcommand (the list read_ckpt itself uses): `NAME --help`
// prints its usage and exactly the flags it accepts; `read_ckpt --help` lists
// them all; a path that does not exist is an error (exit 1) naming it.
#include <gflags/gflags.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "checkpoints/ckpt_commands.h"
#include "tests/checkpoints_test_util.h"

namespace {
using rd::testing::ckpt_cli;

// The flags each subcommand takes, written out (not derived from the
// flags_file rule the help itself uses, so a flag in the wrong file shows).
const std::map<std::string, std::set<std::string>> kFlags = {
    {"inspect", {"stats"}},
    {"consolidate", {"optimizer", "out"}},
    {"reshard", {"out", "world_size"}},
    {"export-adapter", {"adapter_out", "base_model", "lora_alpha"}},
    {"export-hf", {"probe_rtol", "config", "dtype", "hf_out", "max_shard_mb"}},
    {"import", {"config", "dtype", "hf_out", "max_shard_mb"}},
};

TEST(CkptCli, EverySubcommandHasHelpListingItsFlags) {
  const auto& commands = rd::ckpt_commands();
  ASSERT_GE(commands.size(), 6u);
  std::string all;
  ASSERT_EQ(ckpt_cli(commands, {"--help"}, &all), 0);
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& c : commands) {
    SCOPED_TRACE(c.name);
    EXPECT_NE(all.find(std::string("  ") + c.name + " "), std::string::npos) << all;
    std::string out;
    ASSERT_EQ(ckpt_cli(commands, {c.name, "--help"}, &out), 0);
    EXPECT_NE(out.find(std::string("usage: read_ckpt ") + c.name), std::string::npos) << out;
    EXPECT_GT(std::string(c.help).size(), 40u);
    ASSERT_TRUE(kFlags.count(c.name)) << "a subcommand without its flag list here";
    const std::set<std::string>& want = kFlags.at(c.name);
    int own = 0;
    for (const auto& f : flags) {
      const bool listed = out.find("  --" + f.name + " (") != std::string::npos;
      EXPECT_EQ(listed, want.count(f.name) > 0) << "--" << f.name << " in the help of " << c.name << ":\n" << out;
      own += listed;
    }
    EXPECT_EQ(own, static_cast<int>(want.size())) << c.name;
  }
}

TEST(CkptCli, MissingInputsAreNamed) {
  const auto& commands = rd::ckpt_commands();
  const std::string none = "/nonexistent/read_ckpt_input";
  const std::vector<std::vector<std::string>> calls = {
      {"inspect", none},
      {"consolidate", none, "--out", "/tmp/x.safetensors"},
      {"reshard", none, "--world-size", "2", "--out", "/tmp/x"},
      {"export-adapter", none, "--adapter_out", "/tmp/x"},
      {"export-hf", none, "--hf_out", "/tmp/x"},
      {"import", "--config", none, "--hf_out", "/tmp/x"},
  };
  ASSERT_EQ(calls.size(), commands.size()) << "a subcommand without a check here";
  for (const auto& call : calls) {
    std::string out, err;
    EXPECT_EQ(ckpt_cli(commands, call, &out, &err), 1) << call[0] << ": " << err;
    EXPECT_NE(err.find("read_ckpt " + call[0] + ": error: "), std::string::npos) << err;
    EXPECT_NE(err.find(none), std::string::npos) << call[0] << " does not name the missing input: " << err;
  }
}

}  // namespace
