#include "model/llama.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "model/activation_checkpoint.h"

namespace rd {
namespace F = torch::nn::functional;

// ---- RMSNorm ----------------------------------------------------------------

LlamaRMSNormImpl::LlamaRMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor LlamaRMSNormImpl::forward(const torch::Tensor& x) {
  // transformers LlamaRMSNorm: variance in float32; weight * normed.to(input_dtype).
  torch::Tensor h = x.to(torch::kFloat32);
  torch::Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * torch::rsqrt(var + eps);
  return weight * h.to(x.scalar_type());
}

// ---- Rotary -----------------------------------------------------------------

torch::Tensor rotary_inv_freq(int64_t head_dim, double theta, const torch::Device& device) {
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  return 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, f32) / static_cast<double>(head_dim));
}

RotaryTables rotary_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta,
                           torch::Dtype dtype) {
  torch::Tensor inv = rotary_inv_freq(head_dim, theta, position_ids.device());
  // HF caches cos/sin of cat(t * inv_freq, t * inv_freq) for t = 0..max in
  // float32 and gathers rows by position: the same products as here.
  torch::Tensor angle = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv;  // [B, T, hd/2]
  torch::Tensor emb = torch::cat({angle, angle}, -1).unsqueeze(1);              // [B, 1, T, hd]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const RotaryTables& rope) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rot = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * rope.cos + rot * rope.sin;
}

// ---- Attention ----------------------------------------------------------------

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim()) {
  const int64_t d = c.hidden_size, kv = kv_heads_ * head_dim_;
  q_proj = register_module("q_proj", LoraLinear(d, heads_ * head_dim_));
  k_proj = register_module("k_proj", LoraLinear(d, kv));
  v_proj = register_module("v_proj", LoraLinear(d, kv));
  o_proj = register_module("o_proj", LoraLinear(heads_ * head_dim_, d));
}

namespace {
// [B, kvh, S, hd] -> [B, kvh * n_rep, S, hd], each kv head repeated n_rep
// times consecutively (HF repeat_kv).
torch::Tensor repeat_kv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], n_rep, s[2], s[3]}).reshape({s[0], s[1] * n_rep, s[2], s[3]});
}
}  // namespace

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const RotaryTables& rope,
                                          const torch::Tensor& mask, torch::Tensor* cache_k,
                                          torch::Tensor* cache_v) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor q = q_proj(x).view({B, T, heads_, head_dim_}).transpose(1, 2);
  torch::Tensor k = k_proj(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  torch::Tensor v = v_proj(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  q = apply_rotary(q, rope);
  k = apply_rotary(k, rope);
  if (cache_k) {
    if (cache_k->defined()) {
      k = torch::cat({*cache_k, k}, 2);
      v = torch::cat({*cache_v, v}, 2);
    }
    *cache_k = k;
    *cache_v = v;
  }
  k = repeat_kv(k, heads_ / kv_heads_);
  v = repeat_kv(v, heads_ / kv_heads_);
  torch::Tensor scores = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(head_dim_));
  if (mask.defined()) scores = scores + mask;
  torch::Tensor p = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
  torch::Tensor o = torch::matmul(p, v).transpose(1, 2).reshape({B, T, heads_ * head_dim_});
  return o_proj(o);
}

// ---- MLP and decoder layer ----------------------------------------------------

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& c) {
  gate_proj = register_module("gate_proj", LoraLinear(c.hidden_size, c.intermediate_size));
  up_proj = register_module("up_proj", LoraLinear(c.hidden_size, c.intermediate_size));
  down_proj = register_module("down_proj", LoraLinear(c.intermediate_size, c.hidden_size));
}

torch::Tensor LlamaMLPImpl::forward(const torch::Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& c) {
  self_attn = register_module("self_attn", LlamaAttention(c));
  mlp = register_module("mlp", LlamaMLP(c));
  input_layernorm = register_module("input_layernorm", LlamaRMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", LlamaRMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& h, const RotaryTables& rope,
                                             const torch::Tensor& mask, torch::Tensor* cache_k,
                                             torch::Tensor* cache_v) {
  torch::Tensor x = h + self_attn(input_layernorm(h), rope, mask, cache_k, cache_v);
  return x + mlp(post_attention_layernorm(x));
}

// ---- Masks --------------------------------------------------------------------

torch::Tensor llama_attention_mask(const torch::Tensor& attention_mask, int64_t batch, int64_t q_len,
                                   int64_t past, torch::Dtype dtype, const torch::Device& device) {
  const int64_t S = past + q_len;
  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  torch::Tensor qpos = torch::arange(past, S, i64).unsqueeze(1);  // [T, 1]
  torch::Tensor kpos = torch::arange(0, S, i64).unsqueeze(0);     // [1, S]
  torch::Tensor allowed = kpos.le(qpos).view({1, 1, q_len, S});
  if (attention_mask.defined()) {
    READ_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == batch && attention_mask.size(1) == S,
               "LLaMA: attention_mask must be [B, past + T] = [", batch, ", ", S, "], got ",
               attention_mask.sizes());
    torch::Tensor keys = attention_mask.to(device).ne(0).view({batch, 1, 1, S});
    allowed = allowed & keys;
    // A padding query under left padding sees no key at all; HF then spreads
    // it uniformly over every key (so its value depends on the sequence
    // length). Let such rows see only themselves: a defined value that a KV
    // cache reproduces. Rows with any visible key are untouched.
    torch::Tensor self = kpos.eq(qpos).view({1, 1, q_len, S});
    allowed = allowed | (self & allowed.any(-1, /*keepdim=*/true).logical_not());
  } else {
    allowed = allowed.expand({batch, 1, q_len, S});
  }
  const double lowest = dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest()
                        : dtype == torch::kBFloat16 ? -3.38953138925153547590470800371487866880e38
                        : dtype == torch::kFloat16  ? -65504.0
                                                    : static_cast<double>(std::numeric_limits<float>::lowest());
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  return torch::zeros({batch, 1, q_len, S}, opts).masked_fill(allowed.logical_not(), lowest);
}

// ---- LlamaModel ---------------------------------------------------------------

LlamaModelImpl::LlamaModelImpl(const LlamaConfig& c) : config_(c) {
  c.validate("LlamaConfig");
  auto eo = torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size);
  // HF: nn.Embedding(vocab, D, padding_idx=pad_token_id): the pad row gets no
  // gradient (matters when embed_tokens is trained, as in READ).
  if (c.pad_token_id >= 0) eo.padding_idx(c.pad_token_id);
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(eo));
  {
    torch::NoGradGuard g;  // HF _init_weights: normal(0, initializer_range)
    embed_tokens->weight.normal_(0.0, c.initializer_range);
    if (c.pad_token_id >= 0) embed_tokens->weight[c.pad_token_id].zero_();
  }
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers_.push_back(LlamaDecoderLayer(c));
    layers->push_back(layers_.back());
  }
  norm = register_module("norm", LlamaRMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor LlamaModelImpl::embed(const torch::Tensor& ids) {
  READ_CHECK(ids.scalar_type() == torch::kInt64 || ids.scalar_type() == torch::kInt32,
             "LLaMA: input_ids must be integer, got ", ids.scalar_type());
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    READ_CHECK(lo >= 0 && hi < config_.vocab_size, "LLaMA: token id out of range [0, ", config_.vocab_size,
               "): min ", lo, ", max ", hi, " (image placeholders must be spliced out first)");
  }
  return embed_tokens(ids.to(torch::kInt64));
}

LlamaOutput LlamaModelImpl::forward(const LlamaInputs& in) {
  READ_CHECK(in.input_ids.defined() != in.inputs_embeds.defined(),
             "LLaMA: give exactly one of input_ids and inputs_embeds");
  torch::Tensor h = in.input_ids.defined() ? embed(in.input_ids) : in.inputs_embeds;
  READ_CHECK(h.dim() == 3 && h.size(2) == config_.hidden_size, "LLaMA: inputs_embeds must be [B, T, ",
             config_.hidden_size, "], got ", h.sizes());
  const int64_t B = h.size(0), T = h.size(1);
  LlamaKVCache* cache = in.cache;
  const int64_t past = cache ? cache->length() : 0;
  if (cache && cache->k.empty()) cache->k.resize(layers_.size()), cache->v.resize(layers_.size());
  READ_CHECK(!cache || cache->k.size() == layers_.size(), "LLaMA: KV cache has ", cache ? cache->k.size() : 0,
             " layers, model ", layers_.size());

  torch::Tensor pos = in.position_ids;
  if (!pos.defined()) {
    pos = torch::arange(past, past + T, torch::TensorOptions().dtype(torch::kInt64).device(h.device()))
              .unsqueeze(0);
  }
  READ_CHECK(pos.dim() == 2 && pos.size(1) == T && (pos.size(0) == 1 || pos.size(0) == B),
             "LLaMA: position_ids must be [B or 1, T], got ", pos.sizes());
  const RotaryTables rope = rotary_tables(pos.to(h.device()), config_.head_dim(), config_.rope_theta,
                                          h.scalar_type());
  const torch::Tensor mask = llama_attention_mask(in.attention_mask, B, T, past, h.scalar_type(), h.device());

  LlamaOutput out;
  if (in.output_hidden_states) out.hidden_states.push_back(h);
  const bool ckpt = checkpointing_ && is_training() && torch::GradMode::is_enabled() && !cache;
  for (size_t i = 0; i < layers_.size(); ++i) {
    LlamaDecoderLayer layer = layers_[i];
    if (ckpt) {
      std::shared_ptr<LlamaDecoderLayerImpl> impl = layer.ptr();
      h = checkpoint([impl, rope, mask](const torch::Tensor& x) { return impl->forward(x, rope, mask); }, h,
                     layer->parameters());
    } else if (cache) {
      h = layer->forward(h, rope, mask, &cache->k[i], &cache->v[i]);
    } else {
      h = layer->forward(h, rope, mask);
    }
    if (in.output_hidden_states && i + 1 < layers_.size()) out.hidden_states.push_back(h);
  }
  out.last_hidden_state = norm(h);
  if (in.output_hidden_states) out.hidden_states.push_back(out.last_hidden_state);
  return out;
}

// ---- LlamaForCausalLM ---------------------------------------------------------

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& c) {
  model = register_module("model", LlamaModel(c));
  lm_head = register_module("lm_head", LoraLinear(c.hidden_size, c.vocab_size));
  torch::NoGradGuard g;
  lm_head->weight.normal_(0.0, c.initializer_range);
}

LlamaOutput LlamaForCausalLMImpl::forward(const LlamaInputs& in) {
  LlamaOutput out = model->forward(in);
  if (in.compute_logits || in.labels.defined()) {
    // HF 4.31: logits = lm_head(hidden_states).float().
    out.logits = lm_head(out.last_hidden_state).to(torch::kFloat32);
  }
  if (in.labels.defined()) out.loss = causal_lm_loss(out.logits, in.labels);
  return out;
}

void LlamaForCausalLMImpl::resize_token_embeddings(int64_t new_vocab, double std) {
  READ_CHECK(new_vocab > 0, "resize_token_embeddings: vocabulary size must be positive");
  LlamaConfig& c = model->config_;
  if (new_vocab == c.vocab_size) return;
  READ_CHECK(c.pad_token_id < new_vocab, "resize_token_embeddings: pad_token_id ", c.pad_token_id,
             " would fall outside the new vocabulary of ", new_vocab);
  torch::NoGradGuard g;
  torch::Tensor old = model->embed_tokens->weight;
  torch::Tensor w = torch::empty({new_vocab, old.size(1)}, old.options());
  const int64_t keep = std::min(new_vocab, c.vocab_size);
  w.narrow(0, 0, keep).copy_(old.narrow(0, 0, keep));
  if (new_vocab > keep) w.narrow(0, keep, new_vocab - keep).normal_(0.0, std);
  model->embed_tokens->weight.mutable_grad() = torch::Tensor();  // an old-shape grad cannot accumulate
  model->embed_tokens->weight.set_data(w);
  model->embed_tokens->options.num_embeddings(new_vocab);
  // transformers 4.31 _get_resized_embeddings builds nn.Embedding(new, D)
  // without padding_idx, so after READ's resize the pad row is trained like
  // any other row. Kept: it is what the released checkpoints saw.
  model->embed_tokens->options.padding_idx(c10::nullopt);
  lm_head->resize_out_features(new_vocab, std);
  c.vocab_size = new_vocab;
}

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  READ_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                 logits.size(1) == labels.size(1),
             "causal_lm_loss: logits [B, T, V] and labels [B, T] disagree: ", logits.sizes(), " vs ",
             labels.sizes());
  const int64_t V = logits.size(2), T = logits.size(1);
  if (T < 2) return logits.sum().to(torch::kFloat32) * 0;
  torch::Tensor shift_logits = logits.narrow(1, 0, T - 1).reshape({-1, V}).to(torch::kFloat32);
  torch::Tensor shift_labels = labels.narrow(1, 1, T - 1).reshape({-1}).to(torch::kInt64).to(logits.device());
  if (shift_labels.ne(-100).sum().item<int64_t>() == 0) return shift_logits.sum() * 0;
  return F::cross_entropy(shift_logits, shift_labels, F::CrossEntropyFuncOptions().ignore_index(-100));
}

}  // namespace rd
