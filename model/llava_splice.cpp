#include "model/llava_splice.h"

#include "common/error.h"

namespace rd {

torch::Tensor image_token_positions(const torch::Tensor& input_ids) {
  READ_CHECK(input_ids.dim() == 2, "input_ids must be [N, L], got ", input_ids.sizes());
  torch::Tensor is_img = input_ids.eq(kImageTokenIndex);
  torch::Tensor counts = is_img.sum(1).cpu();
  for (int64_t r = 0; r < counts.size(0); ++r)
    READ_CHECK(counts[r].item<int64_t>() == 1, "input_ids row ", r, " holds ", counts[r].item<int64_t>(),
               " image placeholders (", kImageTokenIndex, "); exactly one is required");
  return is_img.to(torch::kLong).argmax(1);
}

SplicedBatch splice_image_features(const torch::Tensor& input_ids, const torch::Tensor& token_embeds,
                                   const torch::Tensor& image_features, const torch::Tensor& attention_mask,
                                   const torch::Tensor& labels) {
  const int64_t n = input_ids.size(0), l = input_ids.size(1);
  READ_CHECK(token_embeds.dim() == 3 && token_embeds.size(0) == n && token_embeds.size(1) == l,
             "token_embeds must be [N, L, D] = [", n, ", ", l, ", D], got ", token_embeds.sizes());
  READ_CHECK(image_features.dim() == 3 && image_features.size(0) == n &&
                 image_features.size(2) == token_embeds.size(2),
             "image_features must be [N, P, D] with N = ", n, " and D = ", token_embeds.size(2), ", got ",
             image_features.sizes());
  READ_CHECK(attention_mask.sizes() == input_ids.sizes(), "attention_mask ", attention_mask.sizes(),
             " does not match input_ids ", input_ids.sizes());
  READ_CHECK(!labels.defined() || labels.sizes() == input_ids.sizes(), "labels ", labels.sizes(),
             " do not match input_ids ", input_ids.sizes());
  const int64_t p = image_features.size(1), t = l - 1 + p;
  SplicedBatch out;
  out.num_image_tokens = p;
  out.image_token_position = image_token_positions(input_ids);
  torch::Tensor pos_cpu = out.image_token_position.cpu();
  torch::Tensor feats = image_features.to(token_embeds.dtype());
  torch::Tensor mask = attention_mask.to(torch::kBool);
  auto idx_opts = input_ids.options().dtype(torch::kLong);
  std::vector<torch::Tensor> embeds, masks, labs;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t at = pos_cpu[r].item<int64_t>();
    embeds.push_back(torch::cat({token_embeds[r].slice(0, 0, at), feats[r], token_embeds[r].slice(0, at + 1)}));
    masks.push_back(torch::cat({mask[r].slice(0, 0, at), torch::ones({p}, mask.options()), mask[r].slice(0, at + 1)}));
    if (labels.defined())
      labs.push_back(torch::cat({labels[r].slice(0, 0, at), torch::full({p}, kIgnoreIndex, labels.options()),
                                 labels[r].slice(0, at + 1)}));
  }
  out.inputs_embeds = torch::stack(embeds);
  out.attention_mask = torch::stack(masks);
  if (labels.defined()) out.labels = torch::stack(labs);
  out.position_ids = torch::arange(t, idx_opts).unsqueeze(0).expand({n, t}).contiguous();
  torch::Tensor j = torch::arange(l, idx_opts).unsqueeze(0).expand({n, l});
  out.token_new_position = torch::where(j.gt(out.image_token_position.unsqueeze(1)), j + (p - 1), j);
  return out;
}

torch::Tensor seg_token_mask(const torch::Tensor& input_ids, const SplicedBatch& s, int64_t seg_token_id) {
  const int64_t n = input_ids.size(0), t = s.inputs_embeds.size(1);
  torch::Tensor nz = input_ids.eq(seg_token_id).nonzero();  // [K, 2] (row, token)
  torch::Tensor rows = nz.select(1, 0);
  torch::Tensor cols = s.token_new_position.index({rows, nz.select(1, 1)}) - 1;
  READ_CHECK(cols.numel() == 0 || cols.min().item<int64_t>() >= 0, "a [SEG] token (id ", seg_token_id,
             ") at position 0 has no preceding state");
  torch::Tensor mask = torch::zeros({n, t}, input_ids.options().dtype(torch::kBool));
  mask.index_put_({rows, cols}, true);
  return mask;
}

torch::Tensor image_index_of_rows(const torch::Tensor& offset) {
  READ_CHECK(offset.dim() == 1 && offset.size(0) >= 1, "offset must be [B + 1], got ", offset.sizes());
  torch::Tensor off = offset.cpu().to(torch::kLong);
  const int64_t b = off.size(0) - 1;
  READ_CHECK(off[0].item<int64_t>() == 0, "offset must start at 0");
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t lo = off[i].item<int64_t>(), hi = off[i + 1].item<int64_t>();
    READ_CHECK(hi >= lo, "offset must be non-decreasing (", lo, " then ", hi, ")");
    for (int64_t r = lo; r < hi; ++r) idx.push_back(i);
  }
  return torch::tensor(idx, torch::kLong).to(offset.device());
}

}  // namespace rd
