// End-to-end tests drive the real programs (read_synth, read_pack,
// read_trainer under mpirun) the way the README does: paths of the built
// programs and the mpirun command line are fixed at configure time.
#pragma once
#include <string>

namespace rd::testing {

// Absolute path of a built program, e.g. program("read_trainer").
std::string program(const std::string& name);
// "mpirun --oversubscribe [--allow-run-as-root] -np <ranks>".
std::string mpirun(int ranks);
// Echoes and runs a shell command; returns its exit status.
int run_command(const std::string& command);

// A fresh temporary folder named after the test (removed first if present).
std::string fresh_dir(const std::string& name);

// read_synth (its tokenizer too; run from the project root with its default
// --templates, as launch/quickstart.sh does) + read_pack all into `dir`: dir/tokenizer,
// dir/packed. Returns false when a program failed.
bool make_packed_synth(const std::string& dir, int train_images, int val_images);

// "mpirun -np R read_trainer configs/tiny.yaml" from the project root, on the
// packed synth data of `data_dir`, writing to `output_dir`, plus `overrides`
// (" --set a=b ..."). Returns the exit status.
int run_tiny_trainer(int ranks, const std::string& data_dir, const std::string& output_dir,
                     const std::string& overrides);

}  // namespace rd::testing
