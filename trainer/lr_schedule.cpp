#include "trainer/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "common/config_reader.h"
#include "common/error.h"

namespace rd {

const char* lr_schedule_name(LrScheduleType t) {
  switch (t) {
    case LrScheduleType::kWarmupDecay:
      return "warmup_decay";
    case LrScheduleType::kCosine:
      return "cosine";
    case LrScheduleType::kConstant:
      return "constant";
  }
  return "?";
}

LrSchedule LrSchedule::make(const std::string& type, double lr, int64_t warmup_steps,
                            int64_t total_steps, double min_lr) {
  LrSchedule s;
  const std::vector<std::string> names = {"warmup_decay", "cosine", "constant"};
  if (type == "warmup_decay") {
    s.type = LrScheduleType::kWarmupDecay;
  } else if (type == "cosine") {
    s.type = LrScheduleType::kCosine;
  } else if (type == "constant") {
    s.type = LrScheduleType::kConstant;
  } else {
    const std::string near = closest_key(type, names);
    fail("unknown lr schedule '", type, "' (warmup_decay, cosine or constant)",
         near.empty() ? "" : "; did you mean '" + near + "'?");
  }
  READ_CHECK(std::isfinite(lr) && lr >= 0, "lr schedule: lr ", lr, " must be >= 0");
  READ_CHECK(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= lr, "lr schedule: min_lr ", min_lr,
             " must be in [0, lr = ", lr, "]");
  READ_CHECK(warmup_steps >= 0, "lr schedule: warmup_steps ", warmup_steps, " must be >= 0");
  if (s.type != LrScheduleType::kConstant)
    READ_CHECK(total_steps >= warmup_steps, "lr schedule ", type, ": total_steps ", total_steps,
               " must be >= warmup_steps ", warmup_steps);
  s.lr = lr;
  s.warmup_steps = warmup_steps;
  s.total_steps = total_steps;
  s.min_lr = min_lr;
  return s;
}

double LrSchedule::at(int64_t step) const {
  const double span = lr - min_lr;
  if (step < warmup_steps) return min_lr + span * static_cast<double>(step) / warmup_steps;
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  switch (type) {
    case LrScheduleType::kConstant:
      return lr;
    case LrScheduleType::kWarmupDecay:
      return min_lr + span * std::max(0.0, (total_steps - step) / decay_steps);
    case LrScheduleType::kCosine: {
      const double p = std::min(1.0, (step - warmup_steps) / decay_steps);
      return min_lr + span * 0.5 * (1 + std::cos(M_PI * p));
    }
  }
  return lr;
}

double LrSchedule::reference_lr(int64_t step) const { return step == 0 ? lr : at(step - 1); }

}  // namespace rd
