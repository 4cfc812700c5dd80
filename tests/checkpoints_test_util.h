// Shared by the read_ckpt tests: a temporary folder, the CLI run in-process,
// and a tiny training config + training checkpoint made as read_trainer makes
// them (model built from the config after manual_seed(train.seed)).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoints/ckpt_cli.h"
#include "checkpoints/training_checkpoint.h"
#include "common/train_section.h"
#include "model/model_section.h"
#include "model/read_model.h"
#include "sharding/zero_state.h"
#include "tests/harness/solo_communicator.h"

namespace rd::testing {
namespace fs = std::filesystem;

struct TempFolder {
  fs::path path;
  explicit TempFolder(const std::string& name)
      : path(fs::temp_directory_path() / ("read_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempFolder() { fs::remove_all(path); }
};

// run_ckpt_cli on `args` (without "read_ckpt"), stdout and stderr captured.
inline int ckpt_cli(const std::vector<CkptCommand>& commands, std::vector<std::string> args, std::string* out = nullptr,
                    std::string* err = nullptr) {
  args.insert(args.begin(), "read_ckpt");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int rc = run_ckpt_cli(static_cast<int>(argv.size()), argv.data(), commands);
  const std::string o = ::testing::internal::GetCapturedStdout(), e = ::testing::internal::GetCapturedStderr();
  if (out) *out = o;
  if (err) *err = e;
  return rc;
}

// The model section of a tiny READ (random init unless `model_yaml` says
// otherwise) in a full training config; data paths need not exist.
inline std::string tiny_train_yaml(const std::string& model_yaml) {
  return "model:\n" + model_yaml +
         "data:\n  packed_dir: packed\n  templates: templates.yaml\n"
         "  mixture:\n    - {family: reason_seg, ratio: 1, datasets: [ReasonSeg]}\n"
         "optim: {lr: 1.0e-3}\n"
         "train: {seed: 11, output_dir: out}\n";
}

// A one-rank training checkpoint (step `step`) of `trainable`, with fresh
// AdamW state, the config file and the tokenizer folder.
inline std::string save_training_checkpoint(const fs::path& root, int64_t step, const StateDict& trainable,
                                            const std::string& config_path, const std::string& tokenizer_dir) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  ConsolidatedState st;
  st.step = step;
  for (const auto& [k, v] : trainable) {
    shapes.emplace_back(k, v.sizes().vec());
    st.master[k] = v.detach().to(torch::kFloat32);
    st.exp_avg[k] = torch::zeros_like(st.master[k]);
    st.exp_avg_sq[k] = torch::zeros_like(st.master[k]);
  }
  SoloCommunicator comm;
  CheckpointManager mgr(root.string(), comm);
  CheckpointSave c;
  c.step = step;
  c.trainer_state = {{"epoch", 0}, {"cursor", 0}};
  c.trainable = trainable;
  c.shard = shard_consolidated(st, PartitionLayout::make(shapes, 1), 0);
  if (!config_path.empty()) {  // the file's text, as the trainer saves its resolved config
    std::ifstream in(config_path);
    READ_CHECK(in.good(), config_path, ": cannot open");
    c.config_yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  c.tokenizer_dir = tokenizer_dir;
  mgr.save(c);
  return (root / ("step_" + std::to_string(step))).string();
}

inline StateDict named_trainables(ReadForCausalLMImpl& m) {
  StateDict out;
  for (auto& [k, v] : m.trainable_parameters()) out[k] = v.detach().clone();
  return out;
}

}  // namespace rd::testing
