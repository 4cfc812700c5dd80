#include "tests/harness/programs.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "tests/harness/fixtures.h"

namespace rd::testing {
namespace fs = std::filesystem;

std::string program(const std::string& name) { return std::string(READ_BIN_DIR) + "/" + name; }

std::string mpirun(int ranks) { return std::string(READ_MPIEXEC) + " -np " + std::to_string(ranks); }

int run_command(const std::string& command) {
  std::cout << "+ " << command << std::endl;
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("read_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

bool make_packed_synth(const std::string& dir, int train_images, int val_images) {
  // From the project root with the default --templates, as launch/quickstart.sh runs it.
  return run_command("cd '" + source_dir() + "' && " + program("read_synth") + " --out " + dir + "/raw --train_images " +
                     std::to_string(train_images) + " --val_images " + std::to_string(val_images) +
                     " --tokenizer_out " + dir + "/tokenizer") == 0 &&
         run_command(program("read_pack") + " all --root " + dir + "/raw --out " + dir + "/packed") == 0;
}

int run_tiny_trainer(int ranks, const std::string& data_dir, const std::string& output_dir,
                     const std::string& overrides) {
  return run_command("cd '" + source_dir() + "' && " + mpirun(ranks) + " " + program("read_trainer") +
                     " configs/tiny.yaml --set model.tokenizer_dir=" + data_dir + "/tokenizer --set data.packed_dir=" +
                     data_dir + "/packed --set train.output_dir=" + output_dir + overrides);
}

}  // namespace rd::testing
