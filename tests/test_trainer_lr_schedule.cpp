// Learning-rate schedules: warmup/decay values at the corners, no first-step
// quirk (and the reference's quirky sequence for comparison), cosine,
// constant, argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "trainer/lr_schedule.h"

namespace {

// The reference's recipe: lr 3e-4, 100 warmup steps, 20 epochs x 500 steps.
const rd::LrSchedule kRecipe = rd::LrSchedule::make("warmup_decay", 3e-4, 100, 10000);

TEST(LrSchedule, WarmupDecayCorners) {
  EXPECT_DOUBLE_EQ(kRecipe.at(0), 0.0);
  EXPECT_DOUBLE_EQ(kRecipe.at(1), 3e-6);
  EXPECT_DOUBLE_EQ(kRecipe.at(50), 1.5e-4);
  EXPECT_DOUBLE_EQ(kRecipe.at(100), 3e-4);  // peak at W
  EXPECT_DOUBLE_EQ(kRecipe.at(101), 3e-4 * 9899 / 9900);
  EXPECT_DOUBLE_EQ(kRecipe.at(5050), 1.5e-4);
  EXPECT_DOUBLE_EQ(kRecipe.at(9999), 3e-4 / 9900);
  EXPECT_DOUBLE_EQ(kRecipe.at(10000), 0.0);  // zero at T
  EXPECT_DOUBLE_EQ(kRecipe.at(12345), 0.0);  // and after
  for (int64_t s = 1; s <= 100; ++s) EXPECT_GT(kRecipe.at(s), kRecipe.at(s - 1)) << s;
  for (int64_t s = 101; s <= 10000; ++s) EXPECT_LT(kRecipe.at(s), kRecipe.at(s - 1)) << s;
}

TEST(LrSchedule, NoFirstStepQuirkButTheReferenceSequenceIsKnown) {
  // The reference: update 0 at the full lr, update 1 at 0, then one step late.
  EXPECT_DOUBLE_EQ(kRecipe.reference_lr(0), 3e-4);
  EXPECT_DOUBLE_EQ(kRecipe.reference_lr(1), 0.0);
  EXPECT_DOUBLE_EQ(kRecipe.reference_lr(2), 3e-6);
  EXPECT_DOUBLE_EQ(kRecipe.reference_lr(101), 3e-4);
  // Ours: warming up from the first update, peak at W, one step earlier.
  EXPECT_DOUBLE_EQ(kRecipe.at(0), 0.0);
  EXPECT_DOUBLE_EQ(kRecipe.at(100), kRecipe.reference_lr(101));
}

TEST(LrSchedule, NoWarmup) {
  const auto s = rd::LrSchedule::make("warmup_decay", 1e-4, 0, 4);
  EXPECT_DOUBLE_EQ(s.at(0), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(1), 0.75e-4);
  EXPECT_DOUBLE_EQ(s.at(4), 0.0);
}

TEST(LrSchedule, CosineWithFloor) {
  const auto s = rd::LrSchedule::make("cosine", 1e-3, 10, 110, 1e-5);
  EXPECT_DOUBLE_EQ(s.at(0), 1e-5);
  EXPECT_DOUBLE_EQ(s.at(5), 1e-5 + (1e-3 - 1e-5) * 0.5);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);
  EXPECT_NEAR(s.at(60), (1e-3 + 1e-5) / 2, 1e-15);
  EXPECT_NEAR(s.at(35), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_DOUBLE_EQ(s.at(110), 1e-5);
  EXPECT_DOUBLE_EQ(s.at(500), 1e-5);
}

TEST(LrSchedule, Constant) {
  const auto flat = rd::LrSchedule::make("constant", 2e-4, 0);
  for (int64_t s : {0, 1, 1000000}) EXPECT_DOUBLE_EQ(flat.at(s), 2e-4);
  const auto warm = rd::LrSchedule::make("constant", 2e-4, 4);
  EXPECT_DOUBLE_EQ(warm.at(0), 0.0);
  EXPECT_DOUBLE_EQ(warm.at(2), 1e-4);
  EXPECT_DOUBLE_EQ(warm.at(4), 2e-4);
  EXPECT_DOUBLE_EQ(warm.at(99), 2e-4);
}

std::string error_of(const std::string& type, double lr, int64_t w, int64_t t, double min_lr = 0) {
  try {
    rd::LrSchedule::make(type, lr, w, t, min_lr);
  } catch (const rd::Error& e) {
    return e.what();
  }
  return "";
}

TEST(LrSchedule, BadArgumentsAreNamed) {
  EXPECT_EQ(
      error_of("cosin", 1e-4, 1, 10),
      "unknown lr schedule 'cosin' (warmup_decay, cosine or constant); did you mean 'cosine'?");
  EXPECT_NE(error_of("warmup_decay", 1e-4, 100, 50).find("total_steps 50"), std::string::npos);
  EXPECT_NE(error_of("constant", -1, 0, 0).find("lr -1"), std::string::npos);
  EXPECT_NE(error_of("cosine", 1e-4, 0, 10, 1e-3).find("min_lr"), std::string::npos);
  EXPECT_NE(error_of("constant", 1e-4, -2, 0).find("warmup_steps -2"), std::string::npos);
}

}  // namespace
