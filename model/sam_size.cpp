#include "model/sam_size.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace rd::sam {
namespace {

int64_t linear(int64_t in, int64_t out, bool bias = true) { return in * out + (bias ? out : 0); }

// transformer.Attention: q/k/v project dim -> dim/rate, out_proj back.
int64_t decoder_attention(int64_t dim, int64_t rate) {
  const int64_t internal = dim / rate;
  return 3 * linear(dim, internal) + linear(internal, dim);
}

// mask_decoder.MLP with num_layers Linears.
int64_t mlp(int64_t in, int64_t hidden, int64_t out, int64_t num_layers) {
  if (num_layers == 1) return linear(in, out);
  return linear(in, hidden) + (num_layers - 2) * linear(hidden, hidden) + linear(hidden, out);
}

std::string human(double n) {
  char buf[32];
  if (n >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", n / 1e9);
  else if (n >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2fK", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

}  // namespace

SamSize sam_size(const SamConfig& c) {
  SamSize s;
  const int64_t C = c.encoder_embed_dim, D = c.prompt_embed_dim, g = c.image_embedding_size();
  const int64_t head_dim = C / c.encoder_num_heads;
  const int64_t hidden = int64_t(double(C) * c.mlp_ratio);

  // image encoder: patch_embed, pos_embed, blocks, neck
  s.image_encoder = 3 * C * c.patch_size * c.patch_size + C + g * g * C;
  for (int64_t i = 0; i < c.encoder_depth; ++i) {
    bool global =
        std::find(c.encoder_global_attn_indexes.begin(), c.encoder_global_attn_indexes.end(), i) !=
        c.encoder_global_attn_indexes.end();
    const int64_t S = global || c.window_size == 0 ? g : c.window_size;
    s.image_encoder += 2 * C                              // norm1
                       + linear(C, 3 * C) + linear(C, C)  // attn.qkv, attn.proj
                       + 2 * (2 * S - 1) * head_dim       // attn.rel_pos_h, rel_pos_w
                       + 2 * C                            // norm2
                       + linear(C, hidden) + linear(hidden, C);
  }
  s.image_encoder += C * D + 2 * D + D * D * 9 + 2 * D;  // neck: conv1x1, LN2d, conv3x3, LN2d

  // prompt encoder: Fourier matrix, 4 point embeddings, not_a_point,
  // mask_downscaling, no_mask_embed
  const int64_t m4 = c.mask_in_chans / 4, m = c.mask_in_chans;
  s.prompt_encoder = 2 * (D / 2) + 4 * D + D + (m4 * 4 + m4) + 2 * m4 + (m * m4 * 4 + m) + 2 * m +
                     linear(m, D) + D;

  // mask decoder: tokens, two-way transformer, upscaling, hypernetworks, IoU head
  const int64_t tokens = c.num_multimask_outputs + 1, rate = c.decoder_attention_downsample_rate;
  int64_t layer = decoder_attention(D, 1) + 2 * decoder_attention(D, rate) + 4 * 2 * D +
                  linear(D, c.decoder_mlp_dim) + linear(c.decoder_mlp_dim, D);
  s.mask_decoder =
      D + tokens * D + c.decoder_transformer_depth * layer + decoder_attention(D, rate) + 2 * D;
  s.mask_decoder += (D * (D / 4) * 4 + D / 4) + 2 * (D / 4) + ((D / 4) * (D / 8) * 4 + D / 8);
  s.mask_decoder += tokens * mlp(D, D, D / 8, 3);
  s.mask_decoder += mlp(D, c.iou_head_hidden_dim, tokens, c.iou_head_depth);
  return s;
}

std::string SamSize::describe(int bytes_per_element) const {
  std::ostringstream os;
  auto line = [&](const char* what, int64_t n) {
    os << what << ": " << n << " (" << human(double(n)) << ", "
       << human(double(n) * bytes_per_element) << "B at " << bytes_per_element << " B/element)\n";
  };
  line("image_encoder ", image_encoder);
  line("prompt_encoder", prompt_encoder);
  line("mask_decoder  ", mask_decoder);
  line("total         ", total());
  return os.str();
}

int64_t image_encoder_inference_peak_bytes(const SamConfig& c, int64_t batch,
                                           int bytes_per_element) {
  const int64_t C = c.encoder_embed_dim, H = c.encoder_num_heads, g = c.image_embedding_size();
  const int64_t hidden = int64_t(double(C) * c.mlp_ratio);
  // Live while a block's attention runs (per image, elements): the block
  // input and norm1 output (2 C per token), the qkv output and its per-head
  // copy (3 C + 3 C), q * scale (C), the logits and their softmax
  // (2 x heads x N x N, relative positions added in place) and the output (C).
  auto attention_phase = [&](int64_t windows, int64_t n_per_window, int64_t tokens) {
    return 2 * H * windows * n_per_window * n_per_window + 9 * tokens * C;
  };
  const int64_t N = g * g;
  int64_t peak = 0;
  bool any_global = !c.encoder_global_attn_indexes.empty() || c.window_size == 0;
  if (any_global) peak = std::max(peak, attention_phase(1, N, N));
  if (c.window_size > 0 && int64_t(c.encoder_global_attn_indexes.size()) < c.encoder_depth) {
    const int64_t w = c.window_size, gp = (g + w - 1) / w * w;
    peak = std::max(peak, attention_phase((gp / w) * (gp / w), w * w, gp * gp));
  }
  // MLP phase: input, residual sum, norm2 output, lin1 and GELU outputs, lin2 output.
  peak = std::max(peak, N * (3 * C + 2 * hidden + C));
  // The input images and patch embedding stay referenced throughout.
  peak += 3 * c.img_size * c.img_size + N * C;
  return batch * peak * bytes_per_element;
}

}  // namespace rd::sam
