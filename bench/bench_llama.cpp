// bench_llama: LLaMA decoder costs that the memory/time planning needs, on a
// stack of `layers` decoder layers at the width of a real model:
//   forward (no grad), forward+backward with LoRA(q,v) + embed/lm_head
//   trainable, the same with activation checkpointing (and the peak RSS
//   increase of each), and greedy decoding per token with the KV cache vs
//   the reference's full recompute.
//
// Peak RSS is per process (freed memory is reused), so the training modes
// are best measured in separate runs (`train=plain` / `train=ckpt`).
//
//   bench_llama [model=7b|13b] [layers=2] [T=512] [dtype=f32|bf16] [threads=2] [reps=3]
//               [train=both|plain|ckpt|none] [generate=1|0]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "model/llama.h"
#include "model/llama_generate.h"
#include "model/lora.h"

using rd::bench::median_ms;

namespace {

// Peak resident set (kB) from /proc/self/status.
long peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string k;
  long v = 0;
  while (f >> k) {
    if (k == "VmHWM:") {
      f >> v;
      return v;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "7b";
  const int64_t layers = argc > 2 ? std::atoll(argv[2]) : 2;
  const int64_t T = argc > 3 ? std::atoll(argv[3]) : 512;
  const bool bf16 = argc > 4 && std::strcmp(argv[4], "bf16") == 0;
  const int threads = argc > 5 ? std::atoi(argv[5]) : 2;
  const int reps = argc > 6 ? std::atoi(argv[6]) : 3;
  const std::string train = argc > 7 ? argv[7] : "both";
  const bool generate = argc > 8 ? std::atoi(argv[8]) != 0 : true;
  torch::set_num_threads(threads);
  torch::manual_seed(0);

  rd::LlamaConfig cfg = which == "13b" ? rd::LlamaConfig::llama13b() : rd::LlamaConfig::llama7b();
  cfg.num_hidden_layers = layers;
  cfg.vocab_size = 32003;
  rd::LlamaForCausalLM m(cfg);
  rd::apply_lora(*m, rd::LoraConfig{});
  rd::set_lora_trainable(*m, {"model.embed_tokens.", "lm_head."});
  if (bf16) m->to(torch::kBFloat16);
  std::printf("LLaMA-%s width, %lld layers (of %s's %d), T=%lld, %s, %d threads, median of %d\n",
              which.c_str(), (long long)layers, which.c_str(), which == "13b" ? 40 : 32, (long long)T,
              bf16 ? "bf16" : "f32", threads, reps);
  torch::Tensor ids = torch::randint(3, 32000, {1, T});
  double param_bytes = 0;
  for (const auto& t : m->parameters()) param_bytes += static_cast<double>(t.numel() * t.element_size());
  std::printf("  parameters: %.2f GiB, peak RSS so far %.2f GiB\n", param_bytes / (1 << 30),
              peak_rss_kb() / 1048576.0);
  m->eval();
  double fwd = median_ms(reps, [&] {
    torch::NoGradGuard g;
    rd::LlamaInputs in;
    in.input_ids = ids;
    m->forward(in);
  });
  std::printf("  forward (no grad):                 %9.1f ms  (%.1f ms/layer)\n", fwd, fwd / layers);

  m->train();
  for (bool ckpt : {true, false}) {
    if (train == "none" || (train == "plain" && ckpt) || (train == "ckpt" && !ckpt)) continue;
    m->model->set_gradient_checkpointing(ckpt);
    const long before = peak_rss_kb();
    double t = median_ms(reps, [&] {
      m->zero_grad();
      rd::LlamaInputs in;
      in.input_ids = ids;
      in.labels = ids;
      m->forward(in).loss.backward();
    });
    std::printf("  forward+backward%s: %9.1f ms  (peak RSS +%.0f MiB over the previous peak)\n",
                ckpt ? " (checkpointing)  " : "                  ", t, (peak_rss_kb() - before) / 1024.0);
  }

  m->eval();
  const int64_t prompt = std::min<int64_t>(T, 128), gen = 16;
  rd::GreedyOptions o;
  o.max_new_tokens = gen;
  o.eos_token_id = -1;
  torch::Tensor p = ids.narrow(1, 0, prompt);
  for (bool cache : {true, false}) {
    if (!generate) break;
    o.use_cache = cache;
    double t = median_ms(1, [&] { rd::greedy_generate(*m, p, torch::Tensor(), torch::Tensor(), o); });
    std::printf("  greedy %lld tokens after a %lld-token prompt, %s: %9.1f ms (%.1f ms/token)\n",
                (long long)gen, (long long)prompt, cache ? "KV cache " : "recompute", t, t / gen);
  }
  return 0;
}
