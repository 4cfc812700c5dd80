#include "trainer/train_config.h"

#include <filesystem>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;
namespace {

template <typename T>
void one_of(const ConfigReader& r, const std::string& key, const T& v, std::initializer_list<T> allowed) {
  for (const auto& a : allowed)
    if (v == a) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  fail(r.source(), ": key '", r.path_of(key), "' is '", v, "', expected one of: ", list);
}

// Paths are checked to exist unless only planning (--plan), where the real
// 7B/13B weights and data need not be on this machine.
std::string path_key(ConfigReader& r, const std::string& key, bool check) {
  return check ? r.existing_path(key) : r.required<std::string>(key);
}

void positive(const ConfigReader& r, const std::string& key, double v) {
  READ_CHECK(v > 0, r.source(), ": key '", r.path_of(key), "' must be positive, got ", v);
}

ModelSection read_model(ConfigReader r, bool check) {
  ModelSection m;
  m.init = r.get<std::string>("init", m.init);
  one_of<std::string>(r, "init", m.init, {"pretrained", "random"});
  if (m.init == "pretrained") {
    m.llava_dir = path_key(r, "llava_dir", check);
    m.vision_tower_dir = path_key(r, "vision_tower_dir", check);
    m.sam_checkpoint = path_key(r, "sam_checkpoint", check);
  }
  m.tokenizer_dir = r.has("tokenizer_dir") || m.init == "random" ? path_key(r, "tokenizer_dir", check) : m.llava_dir;
  {
    ConfigReader l = r.child("llm");
    m.llm.hidden_size = l.get("hidden_size", m.llm.hidden_size);
    m.llm.intermediate_size = l.get("intermediate_size", m.llm.intermediate_size);
    m.llm.num_layers = l.get("num_layers", m.llm.num_layers);
    m.llm.num_heads = l.get("num_heads", m.llm.num_heads);
    m.llm.rms_norm_eps = l.get("rms_norm_eps", m.llm.rms_norm_eps);
    READ_CHECK(m.llm.hidden_size % m.llm.num_heads == 0, r.source(), ": model.llm.hidden_size ",
               m.llm.hidden_size, " is not a multiple of num_heads ", m.llm.num_heads);
  }
  {
    ConfigReader v = r.child("vision");
    m.vision.image_size = v.get("image_size", m.vision.image_size);
    m.vision.patch_size = v.get("patch_size", m.vision.patch_size);
    m.vision.hidden_size = v.get("hidden_size", m.vision.hidden_size);
    m.vision.num_layers = v.get("num_layers", m.vision.num_layers);
    m.vision.num_heads = v.get("num_heads", m.vision.num_heads);
    m.vision.intermediate_size = v.get("intermediate_size", m.vision.intermediate_size);
    READ_CHECK(m.vision.image_size % m.vision.patch_size == 0, r.source(),
               ": model.vision.image_size must be a multiple of patch_size");
  }
  {
    ConfigReader s = r.child("sam");
    m.sam.variant = s.get("variant", m.sam.variant);
    one_of<std::string>(s, "variant", m.sam.variant, {"vit_h", "vit_l", "vit_b", "custom"});
    m.sam.image_size = s.get("image_size", m.sam.image_size);
    m.sam.embed_dim = s.get("embed_dim", m.sam.embed_dim);
    m.sam.depth = s.get("depth", m.sam.depth);
    m.sam.num_heads = s.get("num_heads", m.sam.num_heads);
    m.sam.window_size = s.get("window_size", m.sam.window_size);
    m.sam.global_attn_indexes = s.get("global_attn_indexes", m.sam.global_attn_indexes);
    m.sam.prompt_embed_dim = s.get("prompt_embed_dim", m.sam.prompt_embed_dim);
    m.sam.decoder_mlp_dim = s.get("decoder_mlp_dim", m.sam.decoder_mlp_dim);
    m.sam.decoder_num_heads = s.get("decoder_num_heads", m.sam.decoder_num_heads);
  }
  {
    ConfigReader l = r.child("lora");
    m.lora.r = l.get("r", m.lora.r);
    m.lora.alpha = l.get("alpha", m.lora.alpha);
    m.lora.dropout = l.get("dropout", m.lora.dropout);
    m.lora.target_modules = l.get("target_modules", m.lora.target_modules);
    positive(l, "r", m.lora.r);
  }
  {
    ConfigReader s = r.child("sasp");
    m.sasp.num_points = s.get("num_points", m.sasp.num_points);
    m.sasp.down_sample = s.get("down_sample", m.sasp.down_sample);
    m.sasp.target_size = s.get("target_size", m.sasp.target_size);
    m.sasp.t_pos = s.get("t_pos", m.sasp.t_pos);
    m.sasp.t_neg = s.get("t_neg", m.sasp.t_neg);
    m.sasp.paper_eps = s.get("paper_eps", m.sasp.paper_eps);
    m.sasp.variant = s.get("variant", m.sasp.variant);
    one_of<std::string>(s, "variant", m.sasp.variant, {"code", "paper"});
    READ_CHECK(m.sasp.t_neg < m.sasp.t_pos, r.source(), ": model.sasp.t_neg must be below t_pos");
  }
  {
    ConfigReader l = r.child("loss");
    m.loss.ce_weight = l.get("ce_weight", m.loss.ce_weight);
    m.loss.bce_weight = l.get("bce_weight", m.loss.bce_weight);
    m.loss.dice_weight = l.get("dice_weight", m.loss.dice_weight);
  }
  m.out_dim = r.get("out_dim", m.out_dim);
  m.model_max_length = r.get("model_max_length", m.model_max_length);
  m.precision = r.get("precision", m.precision);
  one_of<std::string>(r, "precision", m.precision, {"bf16", "fp32"});
  m.gradient_checkpointing = r.get("gradient_checkpointing", m.gradient_checkpointing);
  m.extra_trainable = r.get("extra_trainable", m.extra_trainable);
  for (const auto& prefix : m.extra_trainable)
    READ_CHECK(prefix.rfind("model.", 0) == 0 || prefix.rfind("lm_head", 0) == 0, r.source(),
               ": model.extra_trainable entries are parameter-name prefixes such as "
               "\"model.visual_model.image_encoder.\", got \"", prefix, "\"");
  return m;
}

OptimSection read_optim(ConfigReader r) {
  OptimSection o;
  o.lr = r.get("lr", o.lr);
  positive(r, "lr", o.lr);
  o.weight_decay = r.get("weight_decay", o.weight_decay);
  o.eps = r.get("eps", o.eps);
  o.grad_clip = r.get("grad_clip", o.grad_clip);
  o.betas = r.get("betas", o.betas);
  READ_CHECK(o.betas.size() == 2, r.source(), ": key '", r.path_of("betas"), "' needs two numbers");
  o.schedule = r.get("schedule", o.schedule);
  one_of<std::string>(r, "schedule", o.schedule, {"warmup_decay", "constant", "cosine"});
  o.warmup_steps = r.get("warmup_steps", o.warmup_steps);
  o.zero_stage = r.get("zero_stage", o.zero_stage);
  READ_CHECK(o.zero_stage >= 0 && o.zero_stage <= 2, r.source(), ": optim.zero_stage must be 0, 1 or 2");
  o.bucket_elements = r.get("bucket_elements", o.bucket_elements);
  return o;
}

TrainSection read_train(ConfigReader r, const std::string& config_path) {
  TrainSection t;
  t.micro_batch_size = r.get("micro_batch_size", t.micro_batch_size);
  t.grad_accumulation = r.get("grad_accumulation", t.grad_accumulation);
  t.steps_per_epoch = r.get("steps_per_epoch", t.steps_per_epoch);
  t.epochs = r.get("epochs", t.epochs);
  for (auto [k, v] : {std::pair{"micro_batch_size", t.micro_batch_size}, {"grad_accumulation", t.grad_accumulation},
                      {"steps_per_epoch", t.steps_per_epoch}, {"epochs", t.epochs}})
    positive(r, k, v);
  t.seed = r.get("seed", t.seed);
  t.output_dir = r.required<std::string>("output_dir");
  if (fs::path(t.output_dir).is_relative() && !fs::path(config_path).parent_path().empty() &&
      !fs::exists(fs::path(t.output_dir).parent_path()))
    t.output_dir = (fs::path(config_path).parent_path() / t.output_dir).string();
  t.log_every = r.get("log_every", t.log_every);
  t.val_every = r.get("val_every", t.val_every);
  t.ckpt_every = r.get("ckpt_every", t.ckpt_every);
  t.keep_last = r.get("keep_last", t.keep_last);
  t.max_steps = r.get("max_steps", t.max_steps);
  return t;
}

}  // namespace

TrainConfig TrainConfig::load(const std::string& path, const std::vector<std::string>& overrides,
                              bool check_paths) {
  YAML::Node root = load_yaml_file(path);
  for (const auto& o : overrides) apply_override(root, o);
  ConfigReader r(root, path);
  TrainConfig c;
  c.path = path;
  c.model = read_model(r.child("model"), check_paths);
  c.data = DataSection::read(r.child("data"), check_paths);
  c.optim = read_optim(r.child("optim"));
  c.train = read_train(r.child("train"), path);
  r.finish();
  c.resolved = r.resolved();
  return c;
}

}  // namespace rd
