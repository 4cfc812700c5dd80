#include "trainer/memory_plan.h"

#include <iomanip>
#include <sstream>

#include "model/clip_config.h"
#include "model/llama_config.h"
#include "model/sam_size.h"
#include "model/model_sizes.h"

namespace rd {
namespace {

std::string gib(int64_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << bytes / double(1ull << 30) << " GiB";
  return os.str();
}

// CLIPVisionModel parameters (HF layout, patch conv without bias).
int64_t clip_parameters(const ClipVisionConfig& c) {
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  int64_t embeddings = c.num_channels * c.patch_size * c.patch_size * d + d + c.num_positions() * d;
  int64_t layer = 4 * (d * d + d) + 2 * 2 * d + (d * f + f) + (f * d + d);
  return embeddings + 2 * d /*pre_layrnorm*/ + c.num_hidden_layers * layer + 2 * d /*post_layernorm*/;
}

}  // namespace

MemoryPlan plan_memory(const TrainConfig& config, int world) {
  const ModelSizes s = model_sizes(config.model);
  const LlamaConfig& l = s.llm;
  const int64_t d = l.hidden_size;
  MemoryPlan p;
  p.world_size = world;

  // LLM: embed_tokens and lm_head train fully; LoRA A [r, in] + B [out, r] per target.
  const int64_t embed = l.vocab_size * d;
  const int64_t lora = l.num_hidden_layers * static_cast<int64_t>(config.model.lora.target_modules.size()) *
                       2 * config.model.lora.r * d;
  p.components.push_back({"llm.embed_tokens + lm_head", 2 * embed, 0});
  p.components.push_back({"llm.layers + norm (LoRA base)", 0, l.num_parameters() - 2 * embed});
  p.components.push_back({"llm.lora (" + std::to_string(config.model.lora.target_modules.size()) + " targets, r " +
                              std::to_string(config.model.lora.r) + ")",
                          lora, 0});
  p.components.push_back({"vision_tower (CLIP)", 0, clip_parameters(s.clip), "model.vision_tower."});
  const int64_t mm = s.clip.hidden_size;
  p.components.push_back({"mm_projector", 0, mm * d + d + d * d + d, "model.mm_projector."});
  const int64_t out = config.model.out_dim;
  p.components.push_back({"text_hidden_fcs", d * d + d + d * out + out, 0});
  sam::SamSize sam = sam::sam_size(s.sam);
  p.components.push_back({"sam.image_encoder", 0, sam.image_encoder, "model.visual_model.image_encoder."});
  p.components.push_back({"sam.prompt_encoder", 0, sam.prompt_encoder, "model.visual_model.prompt_encoder."});
  p.components.push_back({"sam.mask_decoder", sam.mask_decoder, 0});
  // model.extra_trainable moves whole frozen components to the trainable side.
  for (auto& c : p.components)
    for (const auto& extra : config.model.extra_trainable)
      if (!c.prefix.empty() && c.prefix.rfind(extra, 0) == 0) c.trainable += c.frozen, c.frozen = 0;
  for (const auto& c : p.components) p.trainable += c.trainable, p.frozen += c.frozen;

  const bool bf16 = config.model.precision == "bf16";
  const int64_t work = bf16 ? 2 : 4;
  const int64_t padded = (p.trainable + world - 1) / world;  // this rank's partition
  const int stage = static_cast<int>(config.optim.zero_stage);
  p.weights = (p.trainable + p.frozen) * work;
  p.optimizer = (stage >= 1 ? padded : p.trainable) * 3 * 4;  // master + two moments, fp32
  const int64_t bucket = std::min<int64_t>(config.optim.bucket_elements, p.trainable);
  // Gradients: autograd's working-precision .grad of every trainable tensor,
  // plus fp32 accumulation (full below stage 2, the partition at stage 2)
  // and one communication bucket.
  p.gradients = p.trainable * work + (stage == 2 ? padded * 4 + bucket * 4 : p.trainable * 4);

  // Activations of one micro-batch: B images x conversations, L tokens after
  // the splice (model_max_length). With gradient checkpointing each LLM layer
  // keeps its input (N L D) and one layer is live during recompute
  // (~ N L (10 D + 2 F) plus the attention scores N H L^2); without it every
  // layer keeps the latter. Frozen encoders run without autograd (their
  // forward peak is transient). Logits N L V in fp32 for the loss.
  const int64_t n = config.train.micro_batch_size * config.data.num_classes_per_sample;
  const int64_t len = config.model.model_max_length;
  const int64_t layer_live = n * len * (10 * d + 2 * l.intermediate_size) * work +
                             n * l.num_attention_heads * len * len * work;
  const int64_t layer_input = n * len * d * work;
  p.activations = (config.model.gradient_checkpointing
                       ? l.num_hidden_layers * layer_input + layer_live
                       : l.num_hidden_layers * layer_live) +
                  n * len * l.vocab_size * 4 * 2 /*logits + their grad*/ +
                  sam::image_encoder_inference_peak_bytes(s.sam, config.train.micro_batch_size, work);
  return p;
}

std::string MemoryPlan::describe() const {
  std::ostringstream os;
  os << std::left << std::setw(34) << "component" << std::right << std::setw(16) << "trainable" << std::setw(16)
     << "frozen" << "\n";
  for (const auto& c : components)
    os << std::left << std::setw(34) << c.name << std::right << std::setw(16) << c.trainable << std::setw(16)
       << c.frozen << "\n";
  os << std::left << std::setw(34) << "total" << std::right << std::setw(16) << trainable << std::setw(16) << frozen
     << "\n\nper-rank memory at world size " << world_size << ":\n"
     << "  weights      " << gib(weights) << "\n"
     << "  gradients    " << gib(gradients) << "\n"
     << "  optimizer    " << gib(optimizer) << "\n"
     << "  activations  " << gib(activations) << " (estimate, one micro-batch)\n"
     << "  total        " << gib(total()) << "\n";
  return os.str();
}

}  // namespace rd
