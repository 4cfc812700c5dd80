// SAM image encoder (segment_anything/modeling/image_encoder.py): a plain
// ViT on 16x16 patches with an absolute position embedding, windowed
// attention in most blocks and global attention in a few, decomposed
// relative positions in every block, and a conv neck to the prompt width.
// Tensors inside the trunk are channels-last: [B, H, W, C].
// Parameter names mirror the reference (`patch_embed.proj`, `pos_embed`,
// `blocks.N.{norm1,attn.{qkv,proj,rel_pos_h,rel_pos_w},norm2,mlp.{lin1,lin2}}`,
// `neck.{0,1,2,3}`) so sam_vit_*.pth loads without renaming.
#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "model/sam_common.h"

namespace rd::sam {

struct ImageEncoderViTOptions {
  int64_t img_size = 1024;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  int64_t out_chans = 256;
  bool qkv_bias = true;
  double layernorm_eps = 1e-6;         // blocks' nn.LayerNorm (SAM passes eps 1e-6)
  double neck_layernorm2d_eps = 1e-6;  // the neck's LayerNorm2d
  bool use_abs_pos = true;
  bool use_rel_pos = true;
  int64_t window_size = 14;                  // 0 = global attention everywhere
  std::vector<int64_t> global_attn_indexes;  // blocks with global attention
  int64_t grid_size() const { return img_size / patch_size; }
};

// Splits [B, H, W, C] into [B * nH * nW, win, win, C] windows after zero
// padding H and W up to a multiple of `win`; returns the padded size too.
std::pair<torch::Tensor, std::pair<int64_t, int64_t>> window_partition(const torch::Tensor& x,
                                                                       int64_t win);
// Inverse of window_partition, cropping the padding away: -> [B, H, W, C].
torch::Tensor window_unpartition(const torch::Tensor& windows, int64_t win,
                                 std::pair<int64_t, int64_t> padded_hw,
                                 std::pair<int64_t, int64_t> hw);

// Relative position embeddings for every (query, key) pair along one axis:
// [q_size, k_size, C], linearly interpolating the (2S-1) x C table when its
// length differs from 2*max(q_size, k_size)-1.
torch::Tensor get_rel_pos(int64_t q_size, int64_t k_size, const torch::Tensor& rel_pos);

// attn [B, qh*qw, kh*kw] + q . Rh[qh, kh] + q . Rw[qw, kw] (q unscaled,
// [B, qh*qw, C]); MViTv2's decomposed relative positions. in_place adds
// into `attn` itself (saves memory; only where no gradient is needed).
torch::Tensor add_decomposed_rel_pos(const torch::Tensor& attn, const torch::Tensor& q,
                                     const torch::Tensor& rel_pos_h, const torch::Tensor& rel_pos_w,
                                     std::pair<int64_t, int64_t> q_size,
                                     std::pair<int64_t, int64_t> k_size, bool in_place = false);

// PatchEmbed: Conv2d(in_chans, embed_dim, k = s = patch) then NCHW -> NHWC.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

// Multi-head attention over a [B, H, W, C] grid with one fused qkv Linear
// (q | k | v, heads contiguous inside each) and optional decomposed relative
// positions sized for `input_size` (the window, or the whole grid).
// (image_encoder.Attention in the reference.)
class ViTAttentionImpl : public torch::nn::Module {
 public:
  ViTAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, bool use_rel_pos,
                   std::pair<int64_t, int64_t> input_size);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  torch::Tensor rel_pos_h, rel_pos_w;  // (2*input_size-1) x head_dim

 private:
  int64_t num_heads_;
  double scale_;
  bool use_rel_pos_;
};
TORCH_MODULE(ViTAttention);

// Pre-norm transformer block: x += attn(norm1(x)) (windowed when
// window_size > 0); x += mlp(norm2(x)).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ImageEncoderViTOptions& o, int64_t window_size);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  ViTAttention attn{nullptr};
  MLPBlock mlp{nullptr};
  int64_t window_size() const { return window_size_; }

 private:
  int64_t window_size_;
};
TORCH_MODULE(Block);

class ImageEncoderViTImpl : public torch::nn::Module {
 public:
  explicit ImageEncoderViTImpl(ImageEncoderViTOptions o);

  // images [B, in_chans, img_size, img_size] (normalised, padded) ->
  // image embeddings [B, out_chans, img_size/patch, img_size/patch].
  torch::Tensor forward(const torch::Tensor& x);

  // The same computation, also returning the intermediate tensors the
  // reference fixtures store: the patch embedding (before pos_embed) and the
  // output of every block, all [B, H, W, C].
  struct Trace {
    torch::Tensor patch_embed;
    std::vector<torch::Tensor> blocks;
    torch::Tensor image_embeddings;
  };
  Trace forward_trace(const torch::Tensor& x);

  const ImageEncoderViTOptions& options() const { return o_; }

  PatchEmbed patch_embed{nullptr};
  torch::Tensor pos_embed;  // [1, grid, grid, embed_dim] (undefined without abs pos)
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Sequential neck{nullptr};

 private:
  torch::Tensor run(const torch::Tensor& x, Trace* trace);
  ImageEncoderViTOptions o_;
};
TORCH_MODULE(ImageEncoderViT);

}  // namespace rd::sam
