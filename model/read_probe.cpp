#include "model/read_probe.h"

#include <sstream>

#include "common/error.h"

namespace rd {

ReadBatch probe_batch(const ReadModelConfig& c, uint64_t seed) {
  const int64_t V = c.vocab_size, seg = c.seg_token_id;
  auto word = [&](int64_t i) { return 3 + (i * 7919) % std::max<int64_t>(1, std::min<int64_t>(seg, V) - 3); };
  const int64_t im_start = seg + 1 < V ? seg + 1 : word(0), im_end = seg + 2 < V ? seg + 2 : word(1);
  // <s> USER: <im_start><image><im_end> w w w ASSISTANT: w w [SEG] . </s>
  std::vector<int64_t> ids = {1, word(2), word(3), im_start, kImageTokenIndex, im_end, word(4), word(5), word(6),
                              word(7), word(8), seg, word(9), 2};
  const int64_t answer = 9;
  ReadBatch b;
  b.input_ids = torch::tensor(ids, torch::kLong).unsqueeze(0);
  b.labels = b.input_ids.clone();
  b.labels.narrow(1, 0, answer).fill_(kIgnoreIndex);
  b.attention_masks = torch::ones_like(b.input_ids, torch::kBool);
  b.offset = torch::tensor({0, 1}, torch::kLong);
  at::Generator g = at::detail::createCPUGenerator(seed);
  const int64_t S = c.sam.img_size, C = c.llava.vision.image_size;
  b.images = torch::randn({1, 3, S, S}, g, torch::kFloat32);
  b.images_clip = torch::randn({1, 3, C, C}, g, torch::kFloat32);
  const int64_t H = std::max<int64_t>(1, S * 3 / 4), W = S;
  b.sam_mask_shape_list.push_back({H, W, H, W});
  return b;
}

ProbeOutputs run_probe(ReadForCausalLMImpl& model, const ReadBatch& batch) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  ReadBatch b = batch;
  const torch::Tensor p = model.parameters().front();
  b.images = b.images.to(p.device());
  b.images_clip = b.images_clip.to(p.device(), model.clip()->parameters().front().scalar_type());
  b.input_ids = b.input_ids.to(p.device());
  b.labels = b.labels.to(p.device());
  b.attention_masks = b.attention_masks.to(p.device());
  ReadForwardOutput out = model.forward_batch(b);
  model.train(was_training);
  ProbeOutputs r;
  r.logits = out.llava.llm.logits.detach().to(torch::kCPU, torch::kFloat32);
  r.pred_embeddings = out.pred_embeddings.detach().to(torch::kCPU, torch::kFloat32);
  std::vector<torch::Tensor> pts;
  for (const auto& s : out.segs) pts.push_back(s.sasp.points.detach().to(torch::kCPU, torch::kFloat32));
  r.points = pts.empty() ? torch::zeros({0, 2}) : torch::cat(pts);
  r.masks = out.pred_masks.at(0).detach().to(torch::kCPU, torch::kFloat32);
  return r;
}

namespace {
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  READ_CHECK(a.sizes() == b.sizes(), "probe: ", what, " shapes differ: ", a.sizes(), " vs ", b.sizes());
  return a.numel() ? (a - b).abs().max().item<double>() : 0.0;
}
double max_abs(const torch::Tensor& t) { return t.numel() ? t.abs().max().item<double>() : 0.0; }
}  // namespace

ProbeComparison compare_probe(const ProbeOutputs& a, const ProbeOutputs& b) {
  ProbeComparison c;
  c.logits = max_abs_diff(a.logits, b.logits, "logits");
  c.embeddings = max_abs_diff(a.pred_embeddings, b.pred_embeddings, "[SEG] embeddings");
  c.points = max_abs_diff(a.points, b.points, "SasP points");
  c.masks = max_abs_diff(a.masks, b.masks, "mask logits");
  c.logits_scale = max_abs(b.logits);
  c.embeddings_scale = max_abs(b.pred_embeddings);
  c.masks_scale = max_abs(b.masks);
  return c;
}

bool ProbeComparison::within(double rtol) const {
  return logits <= rtol * std::max(1.0, logits_scale) && embeddings <= rtol * std::max(1.0, embeddings_scale) &&
         masks <= rtol * std::max(1.0, masks_scale) && points <= 1e-3;
}

std::string ProbeComparison::describe() const {
  std::ostringstream s;
  s << "logits max |diff| " << logits << " (of " << logits_scale << "), [SEG] embeddings " << embeddings << " (of "
    << embeddings_scale << "), SasP points " << points << " px, mask logits " << masks << " (of " << masks_scale
    << ")";
  return s.str();
}

}  // namespace rd
