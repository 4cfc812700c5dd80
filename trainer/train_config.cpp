#include "trainer/train_config.h"

#include "common/error.h"

namespace rd {
namespace {

OptimSection read_optim(ConfigReader r) {
  OptimSection o;
  o.lr = r.get("lr", o.lr);
  r.check_positive("lr", o.lr);
  o.weight_decay = r.get("weight_decay", o.weight_decay);
  o.eps = r.get("eps", o.eps);
  o.grad_clip = r.get("grad_clip", o.grad_clip);
  o.betas = r.get("betas", o.betas);
  READ_CHECK(o.betas.size() == 2, r.source(), ": key '", r.path_of("betas"), "' needs two numbers");
  o.schedule = r.get("schedule", o.schedule);
  r.check_one_of("schedule", o.schedule, {"warmup_decay", "constant", "cosine"});
  o.warmup_steps = r.get("warmup_steps", o.warmup_steps);
  o.zero_stage = r.get("zero_stage", o.zero_stage);
  READ_CHECK(o.zero_stage >= 0 && o.zero_stage <= 2, r.source(), ": optim.zero_stage must be 0, 1 or 2");
  o.bucket_elements = r.get("bucket_elements", o.bucket_elements);
  return o;
}

}  // namespace

TrainConfig TrainConfig::load(const std::string& path, const std::vector<std::string>& overrides,
                              bool check_paths) {
  YAML::Node root = load_yaml_file(path);
  for (const auto& o : overrides) apply_override(root, o);
  ConfigReader r(root, path);
  TrainConfig c;
  c.path = path;
  c.yaml = YAML::Dump(root) + "\n";
  c.model = ModelSection::read(r.child("model"), check_paths);
  c.data = DataSection::read(r.child("data"), check_paths);
  c.optim = read_optim(r.child("optim"));
  c.train = TrainSection::read(r.child("train"), path);
  r.finish();
  // Checked here, before any rank builds a model.
  READ_CHECK(c.optim.schedule == "constant" || c.optim.warmup_steps <= c.total_steps(), path,
             ": optim.warmup_steps ", c.optim.warmup_steps, " exceeds the run's ", c.total_steps(),
             " steps (train.epochs x train.steps_per_epoch, or train.max_steps)");
  c.resolved = r.resolved();
  return c;
}

}  // namespace rd
