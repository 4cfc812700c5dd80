// read_ckpt: inspects, converts and exports checkpoints and weight files.
// The subcommands are listed in checkpoints/ckpt_commands.cpp.
#include "checkpoints/ckpt_commands.h"

int main(int argc, char** argv) { return rd::run_ckpt_cli(argc, argv, rd::ckpt_commands()); }
