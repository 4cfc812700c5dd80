// bench_sasp: time of one SasP call (similarity -> maps -> selection -> D2C),
// forward and forward+backward, in three modes:
//   window      the model's path: origin_sm evaluated only in the D2C windows
//   window+map  the H x W origin_sm built, then the local-window D2C on it
//   full grid   the reference: H x W origin_sm, softmax and sum over all
//               pixels for every point
// plus the D2C step alone (window vs full grid) on a given map.
//
//   bench_sasp [H=768] [W=1024] [reps=20] [threads=1] [D=4096]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/bench_util.h"
#include "model/sasp.h"

using rd::bench::median_ms;

int main(int argc, char** argv) {
  int64_t H = argc > 1 ? std::atoll(argv[1]) : 768;
  int64_t W = argc > 2 ? std::atoll(argv[2]) : 1024;
  int reps = argc > 3 ? std::atoi(argv[3]) : 20;
  int threads = argc > 4 ? std::atoi(argv[4]) : 1;
  int64_t D = argc > 5 ? std::atoll(argv[5]) : 4096;
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  torch::Tensor ih = torch::randn({576, D}), sh = torch::randn({D});
  rd::SaspConfig local, mapped, full;  // READ-7B settings: 30 points, down_sample 2
  mapped.keep_origin_sm = true;
  full.window_radius = -1;
  std::printf("SasP, %lld x %lld image (H x W), 576 tokens x D %lld, %lld points, %d thread(s), median of %d\n",
              (long long)H, (long long)W, (long long)D, (long long)local.num_points, threads, reps);

  rd::SaspResult r = rd::similarity_as_points(ih, sh, H, W, mapped);
  rd::SaspResult rl = rd::similarity_as_points(ih, sh, H, W, local);
  rd::SaspResult rf = rd::similarity_as_points(ih, sh, H, W, full);
  std::printf("points: K = %lld, window radius %lld, max |window - full grid| = %.3g px, "
              "max |window - window+map| = %.3g px\n",
              (long long)rl.points.size(0), (long long)local.effective_window_radius(),
              (rl.points - rf.points).abs().max().item<double>(),
              (rl.points - r.points).abs().max().item<double>());

  torch::Tensor ih_leaf = ih.clone().requires_grad_(true), sh_leaf = sh.clone().requires_grad_(true);
  auto call = [&](const rd::SaspConfig& c, bool backward) {
    return [&, backward] {
      if (backward) {
        torch::Tensor p = rd::similarity_as_points(ih_leaf, sh_leaf, H, W, c).points;
        torch::autograd::grad({p.sum()}, {ih_leaf, sh_leaf});
      } else {
        torch::NoGradGuard ng;
        rd::similarity_as_points(ih, sh, H, W, c);
      }
    };
  };
  int few = std::max(3, reps / 4);
  for (bool bw : {false, true}) {
    double tl = median_ms(reps, call(local, bw));
    double tm = median_ms(reps, call(mapped, bw));
    double tf = median_ms(few, call(full, bw));
    std::printf("whole SasP call, %-18s window %8.3f ms | window+map %8.3f ms | full grid %8.3f ms (x%.0f)\n",
                bw ? "forward+backward:" : "forward:", tl, tm, tf, tf / tl);
  }

  torch::Tensor sm = r.origin_sm.detach(), pd = r.points_discrete;
  double dl = median_ms(reps, [&] { rd::discrete_to_continuous(sm, pd, local.effective_window_radius()); });
  double df = median_ms(few, [&] { rd::discrete_to_continuous_full_grid(sm, pd); });
  double om = median_ms(reps, [&] {
    torch::NoGradGuard ng;
    rd::origin_similarity_map(r.similarity, H, W);
  });
  std::printf("D2C step alone on a given map:     window %8.3f ms | full grid %8.3f ms (x%.0f)\n", dl, df, df / dl);
  std::printf("origin_sm (bilinear to H x W), for scale: %.3f ms\n", om);
  return 0;
}
