// Every program answers --help with its own usage and flags (not the ~250
// lines of LibTorch's and glog's flags gflags would list) and exit status 0;
// a command line it cannot use exits non-zero, naming what is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/harness/programs.h"

using namespace rd::testing;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ProgramHelp, OwnUsageAndFlagsOnly) {
  const std::string dir = fresh_dir("program_help");
  const std::map<std::string, std::string> own_flag = {
      {"read_synth", "train_images"}, {"read_pack", "skip-bad"}, {"read_trainer", "world_size"}, {"read_ckpt", "inspect"}};
  for (const auto& [name, flag] : own_flag) {
    SCOPED_TRACE(name);
    const std::string out = dir + "/" + name + ".txt";
    EXPECT_EQ(run_command(program(name) + " --help > " + out + " 2>&1"), 0);
    const std::string text = read_all(out);
    EXPECT_NE(text.find(name), std::string::npos) << text;
    EXPECT_NE(text.find(flag), std::string::npos) << text;
    EXPECT_EQ(text.find("caffe2"), std::string::npos) << text;
    EXPECT_EQ(text.find("alsologtostderr"), std::string::npos) << text;
    EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 80) << text;
  }
  EXPECT_NE(run_command(program("read_synth") + " > /dev/null 2>&1"), 0);     // no --out
  // A tokenizer corpus without its templates is an error, not a smaller vocabulary.
  EXPECT_EQ(run_command(program("read_synth") + " --out " + dir + "/synth --train_images 2 --val_images 1" +
                        " --tokenizer_out " + dir + "/tok --templates " + dir + "/none.yaml > " + dir +
                        "/synth.txt 2>&1"),
            2);
  EXPECT_NE(read_all(dir + "/synth.txt").find("none.yaml: cannot open"), std::string::npos)
      << read_all(dir + "/synth.txt");
  EXPECT_NE(run_command(program("read_trainer") + " > /dev/null 2>&1"), 0);   // no config
  EXPECT_NE(run_command(program("read_pack") + " nosuchdataset > /dev/null 2>&1"), 0);
}

}  // namespace
