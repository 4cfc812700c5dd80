#include "model/sam_image_encoder.h"

#include <algorithm>

#include "common/error.h"

namespace rd::sam {
namespace F = torch::nn::functional;

std::pair<torch::Tensor, std::pair<int64_t, int64_t>> window_partition(const torch::Tensor& x0,
                                                                       int64_t win) {
  const int64_t B = x0.size(0), H = x0.size(1), W = x0.size(2), C = x0.size(3);
  const int64_t pad_h = (win - H % win) % win, pad_w = (win - W % win) % win;
  torch::Tensor x = x0;
  if (pad_h > 0 || pad_w > 0) x = F::pad(x, F::PadFuncOptions({0, 0, 0, pad_w, 0, pad_h}));
  const int64_t Hp = H + pad_h, Wp = W + pad_w;
  x = x.view({B, Hp / win, win, Wp / win, win, C});
  torch::Tensor windows = x.permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, win, win, C});
  return {windows, {Hp, Wp}};
}

torch::Tensor window_unpartition(const torch::Tensor& windows, int64_t win,
                                 std::pair<int64_t, int64_t> padded_hw,
                                 std::pair<int64_t, int64_t> hw) {
  const auto [Hp, Wp] = padded_hw;
  const auto [H, W] = hw;
  const int64_t B = windows.size(0) / (Hp * Wp / win / win);
  torch::Tensor x = windows.view({B, Hp / win, Wp / win, win, win, -1});
  x = x.permute({0, 1, 3, 2, 4, 5}).contiguous().view({B, Hp, Wp, -1});
  if (Hp > H || Wp > W) x = x.slice(1, 0, H).slice(2, 0, W).contiguous();
  return x;
}

torch::Tensor get_rel_pos(int64_t q_size, int64_t k_size, const torch::Tensor& rel_pos) {
  const int64_t max_rel_dist = 2 * std::max(q_size, k_size) - 1;
  torch::Tensor table = rel_pos;
  if (rel_pos.size(0) != max_rel_dist) {
    // The reference interpolates the table linearly (align_corners false)
    // along its length, one channel at a time.
    table = F::interpolate(rel_pos.reshape({1, rel_pos.size(0), -1}).permute({0, 2, 1}),
                           F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{max_rel_dist})
                               .mode(torch::kLinear)
                               .align_corners(false));
    table = table.reshape({-1, max_rel_dist}).permute({1, 0});
  }
  // Coordinates in float32 then truncated, exactly as the reference does
  // (scaled when q_size != k_size).
  const double kq = std::max(double(k_size) / double(q_size), 1.0);
  const double qk = std::max(double(q_size) / double(k_size), 1.0);
  torch::Tensor q_coords = torch::arange(q_size, torch::kFloat32).unsqueeze(1) * kq;
  torch::Tensor k_coords = torch::arange(k_size, torch::kFloat32).unsqueeze(0) * qk;
  torch::Tensor rel = (q_coords - k_coords) + double(k_size - 1) * qk;
  return table.index({rel.to(torch::kLong).to(table.device())});
}

torch::Tensor add_decomposed_rel_pos(const torch::Tensor& attn, const torch::Tensor& q,
                                     const torch::Tensor& rel_pos_h, const torch::Tensor& rel_pos_w,
                                     std::pair<int64_t, int64_t> q_size,
                                     std::pair<int64_t, int64_t> k_size, bool in_place) {
  const auto [q_h, q_w] = q_size;
  const auto [k_h, k_w] = k_size;
  torch::Tensor Rh = get_rel_pos(q_h, k_h, rel_pos_h);
  torch::Tensor Rw = get_rel_pos(q_w, k_w, rel_pos_w);
  const int64_t B = q.size(0), dim = q.size(2);
  torch::Tensor r_q = q.reshape({B, q_h, q_w, dim});
  torch::Tensor rel_h = torch::einsum("bhwc,hkc->bhwk", {r_q, Rh});
  torch::Tensor rel_w = torch::einsum("bhwc,wkc->bhwk", {r_q, Rw});
  if (in_place) {  // same additions in the same order, no temporaries
    torch::Tensor a = attn.view({B, q_h, q_w, k_h, k_w});
    a.add_(rel_h.unsqueeze(4)).add_(rel_w.unsqueeze(3));
    return attn;
  }
  return (attn.view({B, q_h, q_w, k_h, k_w}) + rel_h.unsqueeze(4) + rel_w.unsqueeze(3))
      .view({B, q_h * q_w, k_h * k_w});
}

PatchEmbedImpl::PatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim) {
  proj = register_module(
      "proj",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in_chans, embed_dim, patch_size).stride(patch_size).bias(true)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  return proj->forward(x).permute({0, 2, 3, 1});  // B C H W -> B H W C
}

ViTAttentionImpl::ViTAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, bool use_rel_pos,
                                   std::pair<int64_t, int64_t> input_size)
    : num_heads_(num_heads), use_rel_pos_(use_rel_pos) {
  READ_CHECK(num_heads > 0 && dim % num_heads == 0, "SAM image encoder: dim ", dim,
             " is not divisible by num_heads ", num_heads);
  const int64_t head_dim = dim / num_heads;
  scale_ = 1.0 / std::sqrt(double(head_dim));
  qkv = register_module("qkv",
                        torch::nn::Linear(torch::nn::LinearOptions(dim, dim * 3).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  if (use_rel_pos) {
    READ_CHECK(input_size.first > 0 && input_size.second > 0,
               "SAM image encoder: relative positions need an input size");
    rel_pos_h = register_parameter("rel_pos_h", torch::zeros({2 * input_size.first - 1, head_dim}));
    rel_pos_w =
        register_parameter("rel_pos_w", torch::zeros({2 * input_size.second - 1, head_dim}));
  }
}

torch::Tensor ViTAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2);
  // qkv: [3, B, heads, H*W, head_dim] -> q, k, v: [B*heads, H*W, head_dim]
  torch::Tensor qkv_ =
      qkv->forward(x).reshape({B, H * W, 3, num_heads_, -1}).permute({2, 0, 3, 1, 4});
  auto parts = qkv_.reshape({3, B * num_heads_, H * W, -1}).unbind(0);
  const torch::Tensor &q = parts[0], &k = parts[1], &v = parts[2];
  torch::Tensor attn = torch::matmul(q * scale_, k.transpose(-2, -1));
  // The attention matrix is the encoder's largest tensor (heads x 4096^2 per
  // image in the global blocks at 1024): without autograd, add the relative
  // positions in place instead of holding three copies of it.
  if (use_rel_pos_)
    attn = add_decomposed_rel_pos(attn, q, rel_pos_h, rel_pos_w, {H, W}, {H, W},
                                  /*in_place=*/!torch::GradMode::is_enabled());
  attn = attn.softmax(-1);
  torch::Tensor out = torch::matmul(attn, v)
                          .view({B, num_heads_, H, W, -1})
                          .permute({0, 2, 3, 1, 4})
                          .reshape({B, H, W, -1});
  return proj->forward(out);
}

BlockImpl::BlockImpl(const ImageEncoderViTOptions& o, int64_t window_size)
    : window_size_(window_size) {
  auto ln = [&] {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim}).eps(o.layernorm_eps));
  };
  const int64_t grid = o.grid_size();
  std::pair<int64_t, int64_t> input_size =
      window_size == 0 ? std::make_pair(grid, grid) : std::make_pair(window_size, window_size);
  norm1 = register_module("norm1", ln());
  attn = register_module(
      "attn", ViTAttention(o.embed_dim, o.num_heads, o.qkv_bias, o.use_rel_pos, input_size));
  norm2 = register_module("norm2", ln());
  mlp = register_module(
      "mlp", MLPBlock(o.embed_dim, int64_t(double(o.embed_dim) * o.mlp_ratio), Activation::kGELU));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor shortcut = x;
  torch::Tensor h = norm1->forward(x);
  if (window_size_ > 0) {
    const int64_t H = h.size(1), W = h.size(2);
    auto [windows, padded] = window_partition(h, window_size_);
    h = window_unpartition(attn->forward(windows), window_size_, padded, {H, W});
  } else {
    h = attn->forward(h);
  }
  torch::Tensor y = shortcut + h;
  return y + mlp->forward(norm2->forward(y));
}

ImageEncoderViTImpl::ImageEncoderViTImpl(ImageEncoderViTOptions o) : o_(std::move(o)) {
  READ_CHECK(o_.patch_size > 0 && o_.img_size % o_.patch_size == 0, "SAM image encoder: img_size ",
             o_.img_size, " is not a multiple of patch_size ", o_.patch_size);
  patch_embed =
      register_module("patch_embed", PatchEmbed(o_.patch_size, o_.in_chans, o_.embed_dim));
  const int64_t grid = o_.grid_size();
  if (o_.use_abs_pos)
    pos_embed = register_parameter("pos_embed", torch::zeros({1, grid, grid, o_.embed_dim}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o_.depth; ++i) {
    bool global = std::find(o_.global_attn_indexes.begin(), o_.global_attn_indexes.end(), i) !=
                  o_.global_attn_indexes.end();
    blocks->push_back(Block(o_, global ? 0 : o_.window_size));
  }
  for (int64_t g : o_.global_attn_indexes)
    READ_CHECK(g >= 0 && g < o_.depth, "SAM image encoder: global_attn_indexes entry ", g,
               " is outside depth ", o_.depth);
  neck = register_module(
      "neck",
      torch::nn::Sequential(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(o_.embed_dim, o_.out_chans, 1).bias(false)),
          LayerNorm2d(o_.out_chans, o_.neck_layernorm2d_eps),
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(o_.out_chans, o_.out_chans, 3).padding(1).bias(false)),
          LayerNorm2d(o_.out_chans, o_.neck_layernorm2d_eps)));
}

torch::Tensor ImageEncoderViTImpl::run(const torch::Tensor& images, Trace* trace) {
  READ_CHECK(images.dim() == 4 && images.size(1) == o_.in_chans,
             "SAM image encoder: expected images [B, ", o_.in_chans, ", H, W], got ",
             images.sizes());
  torch::Tensor x = patch_embed->forward(images);
  if (trace) trace->patch_embed = x;
  if (pos_embed.defined()) {
    torch::Tensor pe = pos_embed;
    if (pe.size(1) != x.size(1) || pe.size(2) != x.size(2)) {
      // Not in SAM (which requires the trained grid): resample the absolute
      // embedding to the patch grid, bicubic as ViTDet's get_abs_pos does, so
      // a checkpoint trained at one img_size runs at another.
      pe = F::interpolate(pe.permute({0, 3, 1, 2}),
                          F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{x.size(1), x.size(2)})
                              .mode(torch::kBicubic)
                              .align_corners(false))
               .permute({0, 2, 3, 1});
    }
    x = x + pe;
  }
  for (const auto& m : *blocks) {
    x = m->as<Block>()->forward(x);
    if (trace) trace->blocks.push_back(x);
  }
  x = neck->forward(x.permute({0, 3, 1, 2}));
  if (trace) trace->image_embeddings = x;
  return x;
}

torch::Tensor ImageEncoderViTImpl::forward(const torch::Tensor& x) { return run(x, nullptr); }

ImageEncoderViTImpl::Trace ImageEncoderViTImpl::forward_trace(const torch::Tensor& x) {
  Trace t;
  run(x, &t);
  return t;
}

}  // namespace rd::sam
