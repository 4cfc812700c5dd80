#include "model/llama_generate.h"

#include "common/error.h"

namespace rd {
namespace {

// HF LlamaForCausalLM.prepare_inputs_for_generation.
torch::Tensor positions_from_mask(const torch::Tensor& mask) {
  torch::Tensor m = mask.to(torch::kInt64);
  return (m.cumsum(-1) - 1).masked_fill(m.eq(0), 1);
}

}  // namespace

GreedyResult greedy_generate(LlamaForCausalLMImpl& model, const torch::Tensor& input_ids,
                             const torch::Tensor& inputs_embeds, const torch::Tensor& attention_mask,
                             const GreedyOptions& opt) {
  READ_CHECK(input_ids.defined() != inputs_embeds.defined(),
             "greedy_generate: give exactly one of input_ids and inputs_embeds");
  READ_CHECK(opt.max_new_tokens >= 1, "greedy_generate: max_new_tokens must be >= 1");
  torch::NoGradGuard no_grad;
  const torch::Tensor& prompt = input_ids.defined() ? input_ids : inputs_embeds;
  const int64_t B = prompt.size(0), T = prompt.size(1);
  const torch::Device dev = model.lm_head->weight.device();
  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  torch::Tensor mask = attention_mask.defined() ? attention_mask.to(dev).to(torch::kInt64)
                                                : torch::ones({B, T}, i64);
  READ_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == T,
             "greedy_generate: attention_mask must be [B, T] = [", B, ", ", T, "], got ", mask.sizes());

  LlamaKVCache cache;
  std::vector<torch::Tensor> new_tokens, hiddens;
  torch::Tensor unfinished = torch::ones({B}, i64);
  torch::Tensor prompt_embeds = inputs_embeds.defined() ? inputs_embeds.to(dev) : torch::Tensor();
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    LlamaInputs in;
    in.attention_mask = mask;
    torch::Tensor pos = positions_from_mask(mask);
    if (opt.use_cache) {
      in.cache = &cache;
      if (step == 0) {
        in.input_ids = input_ids.defined() ? input_ids.to(dev) : torch::Tensor();
        in.inputs_embeds = prompt_embeds;
      } else {
        in.input_ids = new_tokens.back().unsqueeze(1);
        pos = pos.narrow(1, pos.size(1) - 1, 1);
      }
    } else if (input_ids.defined()) {
      std::vector<torch::Tensor> parts = {input_ids.to(dev)};
      for (const auto& t : new_tokens) parts.push_back(t.unsqueeze(1));
      in.input_ids = torch::cat(parts, 1);
    } else {
      torch::Tensor gen = new_tokens.empty() ? torch::Tensor()
                                             : model.model->embed(torch::stack(new_tokens, 1));
      in.inputs_embeds = gen.defined() ? torch::cat({prompt_embeds, gen.to(prompt_embeds.scalar_type())}, 1)
                                       : prompt_embeds;
    }
    in.position_ids = pos;
    in.compute_logits = false;
    LlamaOutput out = model.model->forward(in);
    torch::Tensor last = out.last_hidden_state.narrow(1, out.last_hidden_state.size(1) - 1, 1);
    torch::Tensor logits = model.lm_head(last).to(torch::kFloat32).squeeze(1);  // [B, V]
    if (opt.collect_hidden) {
      if (opt.use_cache || step == 0) {
        hiddens.push_back(out.last_hidden_state);
      } else {
        hiddens = {out.last_hidden_state};  // the recompute covers every position
      }
    }
    torch::Tensor next = logits.argmax(-1);
    next = next * unfinished + opt.pad_token_id * (1 - unfinished);
    new_tokens.push_back(next);
    unfinished = unfinished * next.ne(opt.eos_token_id).to(torch::kInt64);
    mask = torch::cat({mask, torch::ones({B, 1}, i64)}, 1);
    if (unfinished.max().item<int64_t>() == 0) break;
  }
  GreedyResult r;
  r.tokens = torch::stack(new_tokens, 1);
  if (opt.collect_hidden) r.hidden = torch::cat(hiddens, 1);
  return r;
}

}  // namespace rd
