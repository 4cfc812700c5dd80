// Learning-rate schedules as a function of the 0-based optimizer step s (the
// rate the optimizer uses for update number s + 1). W = warmup_steps,
// T = total_steps, min = min_lr:
//   warmup_decay  DeepSpeed's WarmupDecayLR with warmup_type "linear" (the
//                 reference's): min + (lr - min) * s / W while s < W, then
//                 min + (lr - min) * max(0, (T - s) / max(1, T - W)): 0 at step
//                 0, lr at step W, back to min at step T;
//   cosine        the same warmup, then min + (lr - min) * (1 + cos(pi * p)) / 2,
//                 p = min(1, (s - W) / max(1, T - W));
//   constant      the same warmup (none when W = 0), then lr.
//
// Decision (spec model.md section 7): NO first-step quirk. The reference
// steps the DeepSpeed scheduler after the optimizer, and DeepSpeed never sets
// the rate before the first update, so its update 0 runs at the optimizer's
// configured (full) lr, update 1 at gamma(0) = 0, and update s >= 1 at the
// schedule's value for s - 1. Here update s runs at the value for s (as
// Hugging Face's linear warmup does). reference_lr() gives the reference's
// sequence for comparisons.
#pragma once
#include <cstdint>
#include <string>

namespace rd {

enum class LrScheduleType { kWarmupDecay, kCosine, kConstant };

struct LrSchedule {
  LrScheduleType type = LrScheduleType::kWarmupDecay;
  double lr = 0;             // peak rate
  int64_t warmup_steps = 0;  // W
  int64_t total_steps = 0;   // T (warmup_decay, cosine)
  double min_lr = 0;         // start of the warmup and end of the decay

  // type: "warmup_decay", "cosine" or "constant"; checks the numbers and
  // names the offending one.
  static LrSchedule make(const std::string& type, double lr, int64_t warmup_steps,
                         int64_t total_steps = 0, double min_lr = 0);

  double at(int64_t step) const;
  // What the reference (scheduler stepped after the optimizer) used at update
  // `step`: the configured lr at 0, then at(step - 1).
  double reference_lr(int64_t step) const;
};

const char* lr_schedule_name(LrScheduleType t);

}  // namespace rd
