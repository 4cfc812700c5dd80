// SAM image encoder on CPU: wall time of one forward (no grad) and the peak
// resident memory it adds, next to the sam_size estimate.
//   bench_sam_encoder [vit_b|vit_l|vit_h] [img_size] [batch]
// Weights are the constructor's random ones (the cost does not depend on them).
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "model/sam.h"
#include "model/sam_size.h"

namespace {
double rss_bytes() {  // current resident set (VmRSS)
  std::ifstream f("/proc/self/status");
  std::string k;
  while (f >> k) {
    if (k == "VmRSS:") {
      double kb;
      f >> kb;
      return kb * 1024;
    }
    std::getline(f, k);
  }
  return 0;
}
double cpu_seconds() {  // user + system time of the process
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string preset = argc > 1 ? argv[1] : "vit_b";
  rd::sam::SamConfig cfg = rd::sam::SamConfig::preset(preset);
  if (argc > 2) cfg.img_size = std::stoll(argv[2]);
  const int64_t batch = argc > 3 ? std::stoll(argv[3]) : 1;
  rd::sam::Sam sam(cfg);
  sam->eval();
  torch::Tensor images = torch::randn({batch, 3, cfg.img_size, cfg.img_size});
  const double before = rss_bytes();
  const double c0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  torch::Tensor emb = sam->image_embeddings(images);
  auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds();
  const double peak = peak_rss_bytes();
  const rd::sam::SamSize size = rd::sam::sam_size(cfg);
  std::cout << "SAM " << preset << " img " << cfg.img_size << " batch " << batch << ", "
            << torch::get_num_threads() << " threads\n"
            << size.describe(4)
            << "image encoder forward: " << std::chrono::duration<double>(t1 - t0).count()
            << " s wall, " << (c1 - c0) << " s CPU -> " << emb.sizes() << "\n"
            << "activation peak (peak RSS - RSS before forward): " << (peak - before) / 1e9
            << " GB\n"
            << "estimate image_encoder_inference_peak_bytes: "
            << rd::sam::image_encoder_inference_peak_bytes(cfg, batch, 4) / 1e9 << " GB\n";
}
