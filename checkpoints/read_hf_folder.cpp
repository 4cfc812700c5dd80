#include "checkpoints/read_hf_folder.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "checkpoints/formats/safetensors.h"
#include "common/error.h"
#include "model/lora.h"
#include "model/tokenizer_files.h"
#include "model/weight_loading.h"

namespace rd {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write_json(const fs::path& p, const json& j) {
  std::ofstream f(p);
  f << j.dump(2) << "\n";
  READ_CHECK(f.flush(), p.string(), ": write failed (disk full?)");
}

const char* hf_dtype_name(torch::Dtype d) {
  switch (d) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: fail("READ HF folder: unsupported weight dtype ", d);
  }
}

uint64_t bytes_under(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

}  // namespace

ReadHfFolderWritten write_read_hf_folder(ReadForCausalLMImpl& model, const Tokenizer& tokenizer,
                                         const ReadHfFolderOptions& o) {
  READ_CHECK(!o.out.empty(), "READ HF folder: no output folder given");
  READ_CHECK(!fs::exists(o.out) || fs::is_empty(o.out), o.out, ": exists and is not empty (will not overwrite)");
  for (const auto& [name, layer] : lora_layers(model))
    READ_CHECK(layer->merged(), "READ HF folder: LoRA of ", name, " is not merged (merge_lora first)");
  READ_CHECK(tokenizer.size() == model.config().llm.vocab_size, "READ HF folder: the tokenizer has ",
             tokenizer.size(), " tokens, the model's vocabulary ", model.config().llm.vocab_size);

  StateDict weights, tower;
  for (auto& [k, v] : module_state(model)) {
    if (is_lora_parameter(k)) continue;
    if (is_vision_tower_key(k)) {
      tower[k] = v;
      continue;
    }
    weights[k] = v;
  }
  const torch::Dtype dtype = o.dtype.value_or(weights.at("lm_head.weight").scalar_type());
  const fs::path out(o.out), tmp = o.out + ".partial";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  ReadHfFolderWritten w;
  try {
    w.weights = save_sharded_safetensors(tmp.string(), weights, o.max_shard_bytes, dtype);
    w.tensors = weights.size();

    LlavaConfig llava = model.config();
    if (o.vision_tower_dir.empty()) {
      // The tower exists nowhere else (random init): a CLIPVisionModel folder beside.
      const std::string prefix = "model.vision_tower.vision_tower.";
      StateDict clip;
      for (auto& [k, v] : tower) {
        READ_CHECK(k.rfind(prefix, 0) == 0, "READ HF folder: unexpected vision tower key ", k);
        clip[k.substr(prefix.size())] = v.to(dtype);
      }
      fs::create_directories(tmp / "vision_tower");
      save_safetensors((tmp / "vision_tower" / "model.safetensors").string(), clip, {{"format", "pt"}});
      json vc = llava.vision.to_json();
      vc["torch_dtype"] = hf_dtype_name(dtype);
      write_json(tmp / "vision_tower" / "config.json", vc);
      llava.mm_vision_tower = "vision_tower";
    } else {
      llava.mm_vision_tower = fs::absolute(o.vision_tower_dir).lexically_normal().string();
    }
    json config = llava.to_json();
    config["architectures"] = {"READForCausalLM"};
    config["out_dim"] = model.read_config().out_dim;
    config["train_mask_decoder"] = true;
    config["seg_token_idx"] = model.read_config().seg_token_id;
    config["torch_dtype"] = hf_dtype_name(dtype);
    config["transformers_version"] = "4.31.0";
    config["use_cache"] = true;
    write_json(tmp / "config.json", config);

    if (!o.generation_config.empty() && fs::exists(o.generation_config)) {
      fs::copy_file(o.generation_config, tmp / "generation_config.json");
    } else {
      const LlamaConfig& l = llava.llm;
      write_json(tmp / "generation_config.json", {{"_from_model_config", true},
                                                  {"bos_token_id", l.bos_token_id},
                                                  {"eos_token_id", l.eos_token_id},
                                                  {"pad_token_id", l.pad_token_id >= 0 ? l.pad_token_id : 0},
                                                  {"transformers_version", "4.31.0"}});
    }
    save_read_tokenizer(tokenizer, o.tokenizer_dir, tmp.string());
    fs::remove_all(out);  // empty (checked above)
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  w.folder_bytes = bytes_under(out);
  return w;
}

}  // namespace rd
