// read_trainer --plan: the per-component counts and per-rank bytes it prints.
#include <gtest/gtest.h>

#include "tests/harness/fixtures.h"
#include "trainer/memory_plan.h"

namespace {

rd::TrainConfig load(const std::string& name, const std::vector<std::string>& overrides = {}) {
  return rd::TrainConfig::load(rd::testing::source_dir() + "/configs/" + name, overrides, /*check_paths=*/false);
}

const rd::ComponentCount& component(const rd::MemoryPlan& p, const std::string& name) {
  for (const auto& c : p.components)
    if (c.name == name) return c;
  ADD_FAILURE() << "no component " << name;
  return p.components.front();
}

}  // namespace

TEST(MemoryPlan, ExtraTrainableMovesFrozenComponents) {
  const rd::TrainConfig reference = load("read7b.yaml");
  const rd::TrainConfig extra =
      load("read7b.yaml", {"model.extra_trainable=[model.mm_projector., model.visual_model.image_encoder.]"});
  const rd::MemoryPlan a = rd::plan_memory(reference, 8), b = rd::plan_memory(extra, 8);
  EXPECT_EQ(a.trainable + a.frozen, b.trainable + b.frozen);
  for (const char* name : {"mm_projector", "sam.image_encoder"}) {
    EXPECT_GT(component(a, name).frozen, 0) << name;
    EXPECT_EQ(component(b, name).frozen, 0) << name;
    EXPECT_EQ(component(b, name).trainable, component(a, name).frozen) << name;
  }
  EXPECT_EQ(component(b, "vision_tower (CLIP)").frozen, component(a, "vision_tower (CLIP)").frozen);
  EXPECT_EQ(b.trainable - a.trainable, component(a, "mm_projector").frozen + component(a, "sam.image_encoder").frozen);
}

TEST(MemoryPlan, ZeroShardsOptimizerState) {
  const rd::TrainConfig c = load("read13b.yaml");
  const rd::MemoryPlan one = rd::plan_memory(c, 1), four = rd::plan_memory(c, 4);
  EXPECT_LE(static_cast<double>(four.optimizer), 0.27 * static_cast<double>(one.optimizer));
  EXPECT_EQ(one.trainable, four.trainable);
}
