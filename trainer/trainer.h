// The training loop of read_trainer: per optimizer step, grad_accumulation
// micro-batches of this rank's share of the global sample sequence go
// through the READ model (loss / grad_accumulation, as the reference), the
// ZeRO optimizer reduces, clips and updates, the schedule sets the lr; rank 0
// logs a progress line, JSONL metrics and TensorBoard scalars, runs the
// validation every val_every steps (gIoU / cIoU) and tracks the best model.
#pragma once
#include <memory>
#include <string>

#include "checkpoints/training_checkpoint.h"
#include "data/train_loader.h"
#include "model/read_model.h"
#include "model/tokenizer.h"
#include "sharding/communicator.h"
#include "sharding/zero_optimizer.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics_log.h"
#include "trainer/segmentation_metrics.h"
#include "trainer/train_config.h"
#include "trainer/validation_set.h"

namespace rd {

class Trainer {
 public:
  // The rank computes on its communicator's device (CPU for MPI, the rank's
  // GPU for NCCL).
  Trainer(const TrainConfig& config, Communicator& comm);
  // Trains to total_steps; returns the final validation metrics.
  SegmentationMetrics run();
  // gIoU / cIoU on the packed validation set (every rank evaluates its share).
  SegmentationMetrics validate();

 private:
  struct StepStats {
    double loss = 0, ce = 0, bce = 0, dice = 0, grad_norm = 0, lr = 0;
  };
  StepStats train_step();
  void save_checkpoint(CheckpointManager& to);
  // Logs the metrics; on a new best gIoU (every rank agrees: the metrics are
  // all-reduced) notes it and, with train.save_best, saves to <output_dir>/best.
  void report(const SegmentationMetrics& m);
  // Resumes from <output_dir>/checkpoints/latest when there is one; returns
  // the sampler state to continue from.
  SamplerState resume();
  void log_step(const StepStats& s, double seconds);

  const TrainConfig& config_;
  Communicator& comm_;
  torch::Device device_;
  Tokenizer tokenizer_;
  ReadForCausalLM model_{nullptr};
  std::unique_ptr<ZeroOptimizer> optimizer_;
  std::unique_ptr<TrainLoader> loader_;
  std::unique_ptr<ValidationSet> validation_;  // opened once, checked at start-up
  LrSchedule schedule_;
  std::unique_ptr<MetricsLog> log_;  // rank 0 only
  std::unique_ptr<CheckpointManager> checkpoints_;
  std::unique_ptr<CheckpointManager> best_;  // train.save_best
  int64_t step_ = 0;
  double best_giou_ = -1;
};

}  // namespace rd
