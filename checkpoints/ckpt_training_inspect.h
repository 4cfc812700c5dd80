// `read_ckpt inspect` of a training checkpoint (checkpoints/training_checkpoint.h):
// a checkpoint root (with `latest`) or one step_<N> directory. Prints the
// step, world size, trainer state, the partition layout (every parameter's
// shape, numel and flat offset; padded and per-rank numel), every file with its
// size and whether it matches the manifest, and the totals.
#pragma once
#include <ostream>
#include <string>

namespace rd {

// Whether `path` is a training checkpoint root or step directory.
bool is_training_checkpoint(const std::string& path);
// Writes the summary; returns the number of trainable parameters (tensors).
size_t inspect_training_checkpoint(const std::string& path, std::ostream& out);

}  // namespace rd
