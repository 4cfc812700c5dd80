#include "model/llama_config.h"

#include "checkpoints/formats/json_file.h"
#include "common/error.h"

namespace rd {

LlamaConfig LlamaConfig::llama7b() {
  LlamaConfig c;  // liuhaotian/llava-v1.5-7b config.json
  c.hidden_size = 4096;
  c.intermediate_size = 11008;
  c.num_hidden_layers = 32;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 32;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  c.pad_token_id = 0;
  return c;
}

LlamaConfig LlamaConfig::llama13b() {
  LlamaConfig c = llama7b();  // liuhaotian/llava-v1.5-13b config.json
  c.hidden_size = 5120;
  c.intermediate_size = 13824;
  c.num_hidden_layers = 40;
  c.num_attention_heads = 40;
  c.num_key_value_heads = 40;
  return c;
}

LlamaConfig LlamaConfig::tiny(int64_t vocab, int64_t hidden, int64_t layers, int64_t heads) {
  LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = hidden * 11 / 4;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = heads;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  c.pad_token_id = 0;
  return c;
}

namespace {

// Token ids may be null, an integer, or (newer configs) a list: take the first.
void read_token_id(const nlohmann::json& j, const char* key, int64_t& out, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return;
  const nlohmann::json& v = j[key];
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_array() && !v.empty() && v[0].is_number_integer()) {
    out = v[0].get<int64_t>();
  } else {
    fail(source, ": field '", key, "' is not a token id (", v.dump(), ")");
  }
}

}  // namespace

LlamaConfig LlamaConfig::from_json(const nlohmann::json& j, const std::string& source) {
  READ_CHECK(j.is_object(), source, ": not a JSON object");
  std::string model_type = j.value("model_type", "llama");
  READ_CHECK(model_type == "llama" || model_type == "llava" || model_type == "llava_llama", source,
             ": model_type '", model_type, "' is not a LLaMA (or LLaVA-LLaMA) config");
  LlamaConfig c;
  read_json_field(j, "vocab_size", c.vocab_size, source);
  read_json_field(j, "hidden_size", c.hidden_size, source);
  read_json_field(j, "intermediate_size", c.intermediate_size, source);
  read_json_field(j, "num_hidden_layers", c.num_hidden_layers, source);
  read_json_field(j, "num_attention_heads", c.num_attention_heads, source);
  c.num_key_value_heads = c.num_attention_heads;
  read_json_field(j, "num_key_value_heads", c.num_key_value_heads, source);
  read_json_field(j, "max_position_embeddings", c.max_position_embeddings, source);
  read_json_field(j, "rms_norm_eps", c.rms_norm_eps, source);
  read_json_field(j, "rope_theta", c.rope_theta, source);
  read_json_field(j, "initializer_range", c.initializer_range, source);
  read_token_id(j, "pad_token_id", c.pad_token_id, source);
  read_token_id(j, "bos_token_id", c.bos_token_id, source);
  read_token_id(j, "eos_token_id", c.eos_token_id, source);

  std::string act = "silu";
  read_json_field(j, "hidden_act", act, source);
  READ_CHECK(act == "silu", source, ": hidden_act '", act, "' is not supported (LLaMA uses silu)");
  READ_CHECK(!j.contains("rope_scaling") || j["rope_scaling"].is_null(), source,
             ": rope_scaling ", j.contains("rope_scaling") ? j["rope_scaling"].dump() : "",
             " is not supported");
  bool tied = false;
  read_json_field(j, "tie_word_embeddings", tied, source);
  READ_CHECK(!tied, source, ": tie_word_embeddings=true is not supported (LLaMA's lm_head is untied)");
  for (const char* bias : {"attention_bias", "mlp_bias"}) {
    bool b = false;
    read_json_field(j, bias, b, source);
    READ_CHECK(!b, source, ": ", bias, "=true is not supported");
  }
  // pretraining_tp > 1 only splits the same matmuls into slices: same math.
  c.validate(source);
  return c;
}

LlamaConfig LlamaConfig::from_file(const std::string& path) {
  const std::string file = json_file_in(path, "config.json");
  return from_json(read_json_file(file), file);
}

nlohmann::json LlamaConfig::to_json() const {
  nlohmann::json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["rope_scaling"] = nullptr;
  j["initializer_range"] = initializer_range;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = false;
  j["pad_token_id"] = pad_token_id >= 0 ? nlohmann::json(pad_token_id) : nlohmann::json(nullptr);
  j["bos_token_id"] = bos_token_id;
  j["eos_token_id"] = eos_token_id;
  return j;
}

void LlamaConfig::validate(const std::string& source) const {
  READ_CHECK(vocab_size > 0 && hidden_size > 0 && intermediate_size > 0 && num_hidden_layers > 0 &&
                 num_attention_heads > 0 && num_key_value_heads > 0 && max_position_embeddings > 0,
             source, ": LLaMA sizes must be positive");
  READ_CHECK(hidden_size % num_attention_heads == 0, source, ": hidden_size ", hidden_size,
             " is not divisible by num_attention_heads ", num_attention_heads);
  READ_CHECK(head_dim() % 2 == 0, source, ": head_dim ", head_dim(), " must be even for rotary embeddings");
  READ_CHECK(num_attention_heads % num_key_value_heads == 0, source, ": num_attention_heads ",
             num_attention_heads, " is not a multiple of num_key_value_heads ", num_key_value_heads);
  READ_CHECK(rms_norm_eps > 0 && rope_theta > 0, source, ": rms_norm_eps and rope_theta must be positive");
  READ_CHECK(pad_token_id < vocab_size, source, ": pad_token_id ", pad_token_id, " >= vocab_size ", vocab_size);
}

int64_t LlamaConfig::num_parameters() const {
  const int64_t d = hidden_size, kv = num_key_value_heads * head_dim();
  const int64_t attn = d * d * 2 + d * kv * 2;
  const int64_t mlp = 3 * d * intermediate_size;
  const int64_t layer = attn + mlp + 2 * d;
  return 2 * vocab_size * d + num_hidden_layers * layer + d;
}

}  // namespace rd
