#include "model/read_generate.h"

#include "common/error.h"

namespace rd {

ReadGenerateOutput read_generate(ReadForCausalLMImpl& m, const ReadGenerateInputs& in) {
  torch::NoGradGuard no_grad;
  const int64_t B = in.input_ids.size(0);
  READ_CHECK(in.images_clip.defined() && in.images_clip.size(0) == B && int64_t(in.shapes.size()) == B,
             "READ generate: one image (CLIP, SAM, shape) per prompt row is required");
  torch::Tensor mask = in.attention_mask.defined() ? in.attention_mask.to(torch::kBool)
                                                   : torch::ones_like(in.input_ids, torch::kBool);
  torch::Tensor feats = m.encode_images(in.images_clip);
  SplicedBatch sp = splice_image_features(in.input_ids, m.embed_tokens(in.input_ids), feats, mask);
  GreedyOptions opt = in.options;
  opt.collect_hidden = true;
  GreedyResult g = greedy_generate(*m.llm, {}, sp.inputs_embeds, sp.attention_mask, opt);

  ReadGenerateOutput out;
  out.tokens = g.tokens;
  // The state that predicted generated token j sits at spliced position T - 1 + j.
  const int64_t T = sp.inputs_embeds.size(1);
  torch::Tensor where = g.tokens.eq(m.read_config().seg_token_id).nonzero().cpu();  // (row, j), row-major
  if (where.size(0) > 0) where.select(1, 1).add_(T - 1);
  m.segment(g.hidden, where, sp.image_token_position.cpu(), sp.num_image_tokens, torch::arange(B, torch::kLong),
            in.images, in.shapes, out.masks);
  return out;
}

}  // namespace rd
