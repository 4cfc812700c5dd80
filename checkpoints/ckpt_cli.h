// The read_ckpt command line: `read_ckpt SUBCOMMAND [--flags] ARGS...`.
// Each subcommand lives in its own file (checkpoints/ckpt_<name>.{h,cpp}),
// defines its gflags there and exposes one CkptCommand; read_ckpt_main.cpp
// lists them. `read_ckpt --help` lists the subcommands, `read_ckpt NAME
// --help` shows NAME's usage and the flags defined in its file. A flag that
// belongs to another subcommand is a usage error, as are unknown flags and
// a wrong number of arguments (exit 2); rd::Error is reported as
// "read_ckpt NAME: error: ..." (exit 1).
#pragma once
#include <string>
#include <vector>

namespace rd {

struct CkptCommand {
  const char* name;        // "inspect"
  const char* args;        // positional arguments, for the usage line: "PATH"
  const char* summary;     // one line for `read_ckpt --help`
  const char* help;        // a paragraph for `read_ckpt NAME --help`
  const char* flags_file;  // __FILE__ of the file that DEFINEs the command's flags
  size_t min_args, max_args;
  int (*run)(const std::vector<std::string>& args);  // flags already parsed
  // __FILE__ of a file whose flags several subcommands share (import and
  // export-hf: checkpoints/ckpt_hf_flags.cpp); nullptr when none.
  const char* shared_flags_file = nullptr;
};

// Parses argv, dispatches to the named command and returns the exit code.
int run_ckpt_cli(int argc, char** argv, const std::vector<CkptCommand>& commands);

}  // namespace rd
