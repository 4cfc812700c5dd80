// read_ckpt inspect PATH [--stats]: lists the tensors of any weight file or
// Hugging Face folder rd::load_state_dict opens (name, dtype, shape, bytes;
// with --stats min/max/mean and the count of non-finite values), one file at a
// time, then the totals.
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "checkpoints/ckpt_cli.h"

namespace rd {

struct InspectOptions {
  bool stats = false;
};

// Writes the listing of the checkpoint at `path`; returns the tensor count.
size_t inspect_checkpoint(const std::string& path, const InspectOptions& options, std::ostream& out);

// The `inspect` subcommand for read_ckpt_main.cpp.
extern const CkptCommand kCkptInspect;

}  // namespace rd
