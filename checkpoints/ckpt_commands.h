// Every read_ckpt subcommand, in the order `read_ckpt --help` lists them.
// To add one: write checkpoints/ckpt_<name>.{h,cpp} exposing a CkptCommand
// (see ckpt_cli.h and ckpt_inspect.cpp) and list it in ckpt_commands.cpp.
#pragma once
#include <vector>

#include "checkpoints/ckpt_cli.h"

namespace rd {

const std::vector<CkptCommand>& ckpt_commands();

}  // namespace rd
