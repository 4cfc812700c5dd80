#include "checkpoints/checkpoint_model.h"

#include <filesystem>
#include <set>

#include "checkpoints/formats/safetensors.h"
#include "checkpoints/training_checkpoint.h"
#include "common/error.h"
#include "common/logging.h"
#include "model/read_model_factory.h"
#include "model/weight_loading.h"

namespace rd {
namespace fs = std::filesystem;

namespace {
void must_exist(const std::string& yaml, const char* key, const std::string& path) {
  READ_CHECK(!path.empty() && fs::exists(path), yaml, ": key 'model.", key, "' names ",
             path.empty() ? std::string("nothing") : "a path that does not exist here: " + path,
             " (run from the training's working directory, or give --config with paths valid here)");
}
}  // namespace

void load_trainable_weights(ReadForCausalLMImpl& model, const StateDict& sd, const std::string& source) {
  std::set<std::string> trainable;
  for (const auto& [name, p] : model.trainable_parameters()) trainable.insert(name);
  LoadOptions opt;
  opt.optional = [&](const std::string& name) { return !trainable.count(name); };  // frozen: from init
  load_into(model, sd, opt).check("checkpoint weights", source);
}

CheckpointModel load_checkpoint_model(const std::string& dir, const std::string& config_yaml) {
  const std::string step_dir = CheckpointManager::resolve(dir);
  CheckpointManager::verify(step_dir);
  const fs::path d(step_dir);
  const std::string yaml = config_yaml.empty() ? (d / "config.yaml").string() : config_yaml;
  READ_CHECK(fs::exists(yaml), yaml, ": no such config (the checkpoint has no config.yaml: give --config)");
  ModelSection m = ModelSection::load(yaml, {}, /*check_paths=*/false);
  TrainSection t = TrainSection::load(yaml);
  if (fs::exists(d / "tokenizer" / "tokenizer.model")) m.tokenizer_dir = (d / "tokenizer").string();
  must_exist(yaml, "tokenizer_dir", m.tokenizer_dir);
  if (m.init == "pretrained") {
    must_exist(yaml, "llava_dir", m.llava_dir);
    must_exist(yaml, "vision_tower_dir", m.vision_tower_dir);
    if (!m.sam_checkpoint.empty()) must_exist(yaml, "sam_checkpoint", m.sam_checkpoint);
  }
  Tokenizer tok = Tokenizer::from_folder(m.tokenizer_dir);
  torch::manual_seed(t.seed);  // as Trainer::Trainer before make_read_model
  ReadForCausalLM model = make_read_model(m, tok);

  const std::string weights = (d / "trainable.safetensors").string();
  load_trainable_weights(*model, load_safetensors(weights), weights);
  LOG(INFO) << "model of " << step_dir << " rebuilt (" << m.init << " init, seed " << t.seed << ")";
  return CheckpointModel{step_dir, std::move(m), std::move(t), std::move(tok), model};
}

}  // namespace rd
