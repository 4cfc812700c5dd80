// ReadBatch: one micro-batch in the layout of spec/data.md section 6. It is
// the contract between data/ (which collates it) and model/ (which consumes
// it); neither folder knows the other, both know this struct.
#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

namespace rd {

// Token conventions shared by data/ (which writes them) and model/ (which reads them).
constexpr int64_t kImageTokenIndex = -200;  // the image placeholder in input_ids
constexpr int64_t kIgnoreIndex = -100;      // labels not supervised

struct SamMaskShape {
  int64_t sam_h = 0, sam_w = 0;  // image size after SAM's resize (before padding)
  int64_t height = 0, width = 0;  // original image size
};

struct ReadBatch {
  torch::Tensor images;           // f32 [B, 3, S, S]  SAM input (S = 1024 for real SAM)
  torch::Tensor images_clip;      // f32 [B, 3, C, C]  CLIP input (C = 336)
  torch::Tensor input_ids;        // i64 [N, L] right-padded, one -200 per row
  torch::Tensor labels;           // i64 [N, L] -100 = ignored
  torch::Tensor attention_masks;  // bool [N, L] ids != pad
  std::vector<torch::Tensor> masks_list;        // B x f32 [M_i, H_i, W_i] at original size
  std::vector<SamMaskShape> sam_mask_shape_list;  // B
  torch::Tensor offset;           // i64 [B + 1] cumulative conversation counts
  std::vector<std::vector<bool>> exists;  // B x [conversations of image i]

  int64_t num_images() const { return images.defined() ? images.size(0) : 0; }
  // The same batch with its tensors on `device` (the model casts dtypes).
  ReadBatch to(const torch::Device& device) const {
    ReadBatch b = *this;
    auto move = [&](torch::Tensor& t) {
      if (t.defined()) t = t.to(device, /*non_blocking=*/true);
    };
    for (torch::Tensor* t : {&b.images, &b.images_clip, &b.input_ids, &b.labels, &b.attention_masks, &b.offset})
      move(*t);
    for (torch::Tensor& m : b.masks_list) {
      // Masks shared by all conversations of an image are one [H, W] tensor
      // expanded to [M, H, W] (data/train_loader.h collate_masks): move the
      // one copy and expand on the device (to() would materialise M copies).
      if (m.dim() == 3 && m.size(0) > 1 && m.stride(0) == 0)
        m = m.select(0, 0).to(device, /*non_blocking=*/true).unsqueeze(0).expand(m.sizes());
      else
        move(m);
    }
    return b;
  }
  int64_t num_conversations() const { return input_ids.defined() ? input_ids.size(0) : 0; }
};

}  // namespace rd
