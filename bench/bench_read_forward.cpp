// bench_read_forward: one READ training micro-batch (2 images, 3
// conversations, 4 [SEG]) through forward_batch and forward+backward, for
// the tiny preset and a "small" model with the real token count (CLIP
// 336/14 -> 576 image tokens, so SasP and the splice run at READ's size),
// with and without gradient checkpointing.
//
//   bench_read_forward [reps=5] [threads=1]
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_util.h"
#include "model/read_model_loading.h"
#include "model/sasp.h"

using rd::bench::median_ms;

namespace {

rd::ReadBatch batch_for(const rd::ReadModelConfig& cfg) {
  const int64_t seg = cfg.seg_token_id, S = cfg.sam.img_size, C = cfg.llava.vision.image_size;
  const std::vector<std::vector<int64_t>> rows = {
      {1, 5, 6, 7, -200, 8, 7, 8, 9, seg, 10, 2},
      {1, 5, 7, -200, 8, 11, 12, seg, 2},
      {1, 5, 6, 7, -200, 8, 13, 14, seg, 15, seg, 16, 2},
  };
  rd::ReadBatch b;
  b.input_ids = torch::zeros({3, 13}, torch::kLong);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < int64_t(rows[r].size()); ++j) b.input_ids[r][j] = rows[r][j];
  b.labels = b.input_ids.masked_fill(b.input_ids.eq(0) | b.input_ids.eq(-200), -100);
  b.attention_masks = b.input_ids.ne(0);
  b.offset = torch::tensor({0, 2, 3}, torch::kLong);
  b.images = torch::randn({2, 3, S, S});
  b.images_clip = torch::randn({2, 3, C, C});
  const std::vector<std::pair<int64_t, int64_t>> hw = {{480, 640}, {640, 427}};
  for (int i = 0; i < 2; ++i) {
    auto [sh, sw] = rd::sam_preprocess_shape(hw[i].first, hw[i].second, S);
    b.sam_mask_shape_list.push_back({sh, sw, hw[i].first, hw[i].second});
    b.masks_list.push_back(torch::rand({2, hw[i].first, hw[i].second}).gt(0.5).to(torch::kFloat32));
  }
  return b;
}

void run(const char* name, rd::ReadModelConfig cfg, int reps) {
  for (bool ckpt : {false, true}) {
    cfg.gradient_checkpointing = ckpt;
    torch::manual_seed(0);
    rd::ReadForCausalLM m = rd::build_read_model(cfg);
    m->train();
    rd::ReadBatch b = batch_for(cfg);
    double fwd = median_ms(reps, [&] {
      torch::NoGradGuard g;
      m->forward_batch(b);
    });
    double both = median_ms(reps, [&] {
      m->zero_grad();
      m->forward_batch(b).losses.loss.backward();
    });
    if (!ckpt) {  // forward stages, no grad
      torch::NoGradGuard g;
      torch::Tensor row_image = rd::image_index_of_rows(b.offset);
      torch::Tensor feats;
      double clip = median_ms(reps, [&] { feats = m->encode_images(b.images_clip); });
      rd::LlavaInputs in;
      in.input_ids = b.input_ids;
      in.attention_mask = b.attention_masks;
      in.labels = b.labels;
      in.image_features = feats.index_select(0, row_image);
      rd::LlavaOutput lo;
      double llm = median_ms(reps, [&] { lo = m->forward(in); });
      torch::Tensor mask = rd::seg_token_mask(b.input_ids, lo.spliced, cfg.seg_token_id);
      rd::ReadForwardOutput out;
      double seg = median_ms(reps, [&] {
        m->segment(lo.llm.last_hidden_state, mask.nonzero(), lo.spliced.image_token_position,
                   lo.spliced.num_image_tokens, row_image, b.images, b.sam_mask_shape_list, out);
      });
      std::printf("%-6s stages: CLIP+projector %.1f ms, splice+LLaMA %.1f ms, SasP+SAM (4 [SEG]) %.1f ms\n", name,
                  clip, llm, seg);
    }
    std::printf("%-6s ckpt %-3s  D %4lld x %lld layers, %3lld image tokens, SAM %4lld px: forward %8.1f ms, "
                "forward+backward %8.1f ms\n",
                name, ckpt ? "on" : "off", (long long)cfg.llava.llm.hidden_size,
                (long long)cfg.llava.llm.num_hidden_layers, (long long)cfg.num_image_tokens(),
                (long long)cfg.sam.img_size, fwd, both);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  torch::set_num_threads(threads);
  std::printf("READ micro-batch: 2 images (480x640, 640x427), 3 conversations, 4 [SEG]; %d thread(s), median of %d\n",
              threads, reps);
  run("tiny", rd::ReadModelConfig::tiny(), reps);
  rd::ReadModelConfig small = rd::ReadModelConfig::tiny();
  small.llava.llm.hidden_size = 256;
  small.llava.llm.intermediate_size = 704;
  small.llava.llm.num_hidden_layers = 4;
  small.llava.vision.image_size = 336;  // 24 x 24 = 576 tokens, as CLIP ViT-L/14-336
  small.sam.img_size = 256;
  run("small", small, reps);
  return 0;
}
