#include "model/read_model.h"

#include "common/error.h"

namespace rd {

bool is_read_trainable(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  return is_lora_parameter(name) || starts("model.embed_tokens.") || starts("lm_head.") ||
         starts("model.visual_model.mask_decoder.") || starts("model.text_hidden_fcs.");
}

ReadForCausalLMImpl::ReadForCausalLMImpl(const ReadModelConfig& config)
    : LlavaForCausalLMImpl(config.llava), read_config_(config) {
  read_config_.validate("ReadModelConfig");
  visual_model = sam::Sam(read_config_.sam);
  text_hidden_fcs = TextHiddenFcs(config_.llm.hidden_size, read_config_.out_dim);
  inner_->register_module("visual_model", visual_model);
  inner_->register_module("text_hidden_fcs", text_hidden_fcs);
  llm->model->set_gradient_checkpointing(read_config_.gradient_checkpointing);
  set_trainable();
}

void ReadForCausalLMImpl::resize_vocab(int64_t vocab) {
  if (vocab == llm->config().vocab_size) return;
  llm->resize_token_embeddings(vocab, read_config_.new_token_init_std);
  config_.llm.vocab_size = read_config_.llava.llm.vocab_size = vocab;
  set_trainable();
}

std::vector<std::pair<std::string, torch::Tensor>> ReadForCausalLMImpl::set_trainable() {
  auto extra = [&](const std::string& name) {
    for (const auto& prefix : read_config_.extra_trainable)
      if (name.rfind(prefix, 0) == 0) return true;
    return false;
  };
  for (auto& p : named_parameters()) p.value().set_requires_grad(is_read_trainable(p.key()) || extra(p.key()));
  return trainable_parameters();
}

std::vector<std::pair<std::string, torch::Tensor>> ReadForCausalLMImpl::trainable_parameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : named_parameters())
    if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
  return out;
}

ReadForwardOutput ReadForCausalLMImpl::forward_batch(const ReadBatch& b) {
  const ReadModelConfig& cfg = read_config_;
  const int64_t B = b.num_images(), N = b.num_conversations();
  READ_CHECK(B > 0 && N > 0, "READ forward: empty batch (", B, " images, ", N, " conversations)");
  READ_CHECK(b.offset.defined() && b.offset.dim() == 1 && b.offset.size(0) == B + 1, "READ forward: offset must be [",
             B + 1, "], got ", b.offset.defined() ? b.offset.sizes() : at::IntArrayRef{});
  READ_CHECK(int64_t(b.sam_mask_shape_list.size()) == B, "READ forward: ", b.sam_mask_shape_list.size(),
             " sam_mask_shape_list entries for ", B, " images");
  READ_CHECK(b.images_clip.defined() && b.images_clip.size(0) == B, "READ forward: images_clip must hold ", B,
             " images");
  torch::Tensor row_image = image_index_of_rows(b.offset).cpu();
  READ_CHECK(row_image.size(0) == N, "READ forward: offset counts ", row_image.size(0), " conversations, input_ids has ",
             N);
  const bool with_loss = b.labels.defined() && !b.masks_list.empty();
  if (!b.masks_list.empty())
    READ_CHECK(int64_t(b.masks_list.size()) == B, "READ forward: ", b.masks_list.size(), " mask sets for ", B,
               " images");

  ReadForwardOutput out;
  // 2-4: CLIP once per image, broadcast to its conversations; splice; LLaMA.
  torch::Tensor feats = encode_images(b.images_clip);
  LlavaInputs in;
  in.input_ids = b.input_ids;
  in.attention_mask = b.attention_masks;
  in.labels = b.labels;
  in.image_features = feats.index_select(0, row_image.to(feats.device()));
  in.compute_logits = b.labels.defined();
  out.llava = forward(in);
  const SplicedBatch& sp = out.llava.spliced;
  const torch::Tensor& hidden = out.llava.llm.last_hidden_state;  // final-norm states (READ's hidden_states)

  // 1: the state one before each [SEG] (row-major).
  out.seg_token_mask = seg_token_mask(b.input_ids, sp, cfg.seg_token_id);
  segment(hidden, out.seg_token_mask.nonzero().cpu(), sp.image_token_position.cpu(), sp.num_image_tokens, row_image,
          b.images, b.sam_mask_shape_list, out);
  std::vector<std::vector<int64_t>> segs_of_image(B);
  for (size_t k = 0; k < out.segs.size(); ++k) segs_of_image[out.segs[k].image].push_back(int64_t(k));

  // 9: losses.
  if (with_loss) {
    std::vector<torch::Tensor> gt(B);
    for (int64_t i = 0; i < B; ++i) {
      const torch::Tensor& m = b.masks_list[i];
      READ_CHECK(m.dim() == 3 && m.size(0) == int64_t(segs_of_image[i].size()), "READ forward: image ", i, " has ",
                 segs_of_image[i].size(), " [SEG] tokens but ", m.dim() == 3 ? m.size(0) : -1,
                 " ground-truth masks (a [SEG] cut by truncation?)");
      READ_CHECK(m.size(1) == out.pred_masks[i].size(1) && m.size(2) == out.pred_masks[i].size(2),
                 "READ forward: image ", i, " masks are ", m.sizes(), ", its size is ", out.pred_masks[i].sizes());
      gt[i] = m.to(out.pred_masks[i].device(), out.pred_masks[i].scalar_type());
    }
    out.losses = read_losses(out.llava.llm.loss, out.pred_masks, gt, cfg.loss);
  }
  return out;
}

void ReadForCausalLMImpl::segment(const torch::Tensor& hidden, const torch::Tensor& seg_where,
                                  const torch::Tensor& image_positions, int64_t num_image_tokens,
                                  const torch::Tensor& row_image, const torch::Tensor& images,
                                  const std::vector<SamMaskShape>& shapes, ReadForwardOutput& out) {
  const ReadModelConfig& cfg = read_config_;
  const int64_t B = int64_t(shapes.size()), P = num_image_tokens;
  READ_CHECK(images.defined() && images.size(0) == B, "READ: ", shapes.size(), " image shapes for ",
             images.defined() ? images.size(0) : 0, " SAM images");
  // 5: text_hidden_fcs on the [SEG] states only (10.7).
  torch::Tensor rows = seg_where.select(1, 0).to(hidden.device()), cols = seg_where.select(1, 1).to(hidden.device());
  out.seg_hidden_states = hidden.index({rows, cols});
  out.pred_embeddings = text_hidden_fcs(out.seg_hidden_states);

  // 6: SasP per [SEG], on its own conversation's image tokens and image size.
  std::vector<std::vector<int64_t>> segs_of_image(B);
  out.segs.clear();
  for (int64_t k = 0; k < seg_where.size(0); ++k) {
    ReadSegOutput s;
    s.conversation = seg_where[k][0].item<int64_t>();
    s.state_position = seg_where[k][1].item<int64_t>();
    s.image = row_image[s.conversation].item<int64_t>();
    READ_CHECK(s.image >= 0 && s.image < B, "READ: conversation ", s.conversation, " maps to image ", s.image,
               " of ", B);
    const SamMaskShape& shape = shapes[s.image];
    s.height = shape.height;
    s.width = shape.width;
    torch::Tensor image_hidden = hidden[s.conversation].narrow(0, image_positions[s.conversation].item<int64_t>(), P);
    s.sasp = similarity_as_points(image_hidden, hidden[s.conversation][s.state_position], s.height, s.width,
                                  cfg.sasp);
    // 3.8: no detach; the D2C weights carry gradient to the hidden states.
    torch::Tensor pts = detach_sasp_points ? s.sasp.points.detach() : s.sasp.points;
    s.points_sam = points_to_sam_frame(pts, s.height, s.width, shape.sam_h, shape.sam_w);
    segs_of_image[s.image].push_back(k);
    out.segs.push_back(std::move(s));
  }

  // 7-8: SAM image embeddings (frozen, no grad) for images with a [SEG];
  // prompt encoder + mask decoder per image.
  std::vector<int64_t> with_seg;
  for (int64_t i = 0; i < B; ++i)
    if (!segs_of_image[i].empty()) with_seg.push_back(i);
  const torch::Tensor dec_w = visual_model->mask_decoder->parameters().front();
  torch::Tensor emb;
  if (!with_seg.empty()) {
    torch::Tensor idx = torch::tensor(with_seg, torch::kLong).to(images.device());
    emb = visual_model->image_embeddings(images.index_select(0, idx).to(dec_w.dtype()));
  }
  out.pred_masks.assign(B, torch::Tensor());
  for (int64_t i = 0, j = 0; i < B; ++i) {
    const SamMaskShape& shape = shapes[i];
    const auto& ks = segs_of_image[i];
    if (ks.empty()) {
      out.pred_masks[i] = torch::zeros({0, shape.height, shape.width}, dec_w.options().requires_grad(false));
      continue;
    }
    std::vector<torch::Tensor> pts, labs;
    for (int64_t k : ks) {
      READ_CHECK(out.segs[k].points_sam.size(0) == out.segs[ks[0]].points_sam.size(0),
                 "READ: [SEG]s of image ", i, " got different point counts");
      pts.push_back(out.segs[k].points_sam);
      labs.push_back(out.segs[k].sasp.labels);
    }
    torch::Tensor ks_t = torch::tensor(ks, torch::kLong).to(out.pred_embeddings.device());
    torch::Tensor text = out.pred_embeddings.index_select(0, ks_t).unsqueeze(1).to(dec_w.dtype());
    sam::SamPrediction pred = visual_model->predict(
        emb[j++].unsqueeze(0), torch::stack(pts).to(dec_w.dtype()), torch::stack(labs).to(dec_w.device()), text,
        /*multimask_output=*/false, {shape.sam_h, shape.sam_w}, {shape.height, shape.width});
    out.pred_masks[i] = pred.masks.select(1, 0);
  }
}

}  // namespace rd
