// Similarity as Points (SasP, READ CVPR 2025; spec/model.md section 3):
// turns the similarity between the [SEG] hidden state and the image-token
// hidden states of ONE conversation into K SAM point prompts with labels
// (1 positive, 0 negative, -1 neutral).
//
// The steps are separate functions named after the spec so tests can check
// each one against the reference fixtures:
//   similarity -> origin_similarity_map (full resolution, for D2C)
//              -> coarse_grid (selection map, padded with -1)
//              -> select_points -> discrete_coordinates
//              -> discrete_to_continuous -> points_to_sam_frame
//
// Reference: rui-qian/READ model/READ.py, READForCausalLM.similarity_as_points
// / similarity_map_to_points @ 254924020ec4d33ace8575eb1e2a515390530594.
#pragma once
#include <torch/torch.h>

#include <string>

namespace rd {

class ConfigReader;

struct SaspConfig {
  enum class Variant {
    kCode,   // the released code: fixed t_pos/t_neg on the min-max coarse grid, exp(-d^2)
    kPaper,  // the paper's Algorithm 1: t = mu +/- eps*sigma, exp(-d)
  };
  int64_t num_points = 30;     // K (at most; fewer when the coarse grid has fewer cells)
  double t_pos = 0.8;          // code variant: value >= t_pos -> positive
  double t_neg = 0.2;          // code variant: 0 <= value <= t_neg -> negative
  int64_t down_sample = 2;     // coarse side S = sqrt(Nt) / down_sample
  int64_t target_size = 336;   // origin_sm intermediate size (READ's literal 336 = CLIP crop)
  Variant variant = Variant::kCode;
  double eps = 0.5;            // paper variant: thresholds mu +/- eps*sigma
  // Discrete-to-continuous window radius in pixels. 0 = automatic: 10 for
  // exp(-d^2) (dropped weights < e^-100 of the centre), 28 for exp(-d)
  // (dropped mass < 1e-9). A negative value selects the reference's
  // full-image sum (slow; kept for tests and the benchmark).
  int64_t window_radius = 0;
  // Also build the full H x W origin_sm (SaspResult::origin_sm) although the
  // local window only needs (2r+1)^2 pixels per point: tests and diagnostics.
  // Always built for the full-grid D2C. Not a YAML key.
  bool keep_origin_sm = false;

  // Keys: num_points, t_pos, t_neg, down_sample, target_size,
  // variant ("code" | "paper"), eps, window_radius.
  static SaspConfig read(ConfigReader& r);
  int64_t effective_window_radius() const;  // the radius actually used (>= 1), -1 = full grid
};

std::string to_string(SaspConfig::Variant v);
SaspConfig::Variant parse_sasp_variant(const std::string& s);

// 3.1: s_i = sum_c image_hidden[i, c] * seg_hidden[c] (the CLIP-Surgery
// weight of the reference is 1 for one text feature), computed as a
// matrix-vector product. image_hidden [Nt, D], seg_hidden [D] or [1, D] ->
// [Nt] (input dtype).
torch::Tensor sasp_similarity(const torch::Tensor& image_hidden, const torch::Tensor& seg_hidden);

// Min-max normalisation to [0, 1]. Improvement (spec 10.5): a constant input
// gives zeros instead of the reference's 0/0 = NaN.
torch::Tensor min_max_normalize(const torch::Tensor& x);

// Python floor division (the reference's pads use //, which floors negative values).
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// The reference's letterbox arithmetic: scale = target / min(H, W) (double),
// new = int(len * scale), pad = (new - target) // 2 (negative pad = crop).
struct SaspPad {
  int64_t new_h = 0, new_w = 0, pad_h = 0, pad_w = 0;
};
SaspPad sasp_pad(int64_t H, int64_t W, int64_t target);

// 3.2: origin_sm [H, W] float32: min-max(sim) -> side x side -> bilinear to
// target x target -> zero pad (negative pad crops) -> bilinear to (H, W).
// Differentiable in `sim`.
torch::Tensor origin_similarity_map(const torch::Tensor& sim, int64_t H, int64_t W,
                                    int64_t target_size = 336);

// origin_sm at the given pixels only (ys, xs: i64 row / column indices of any
// shape, returned with that shape): the padded target-size map interpolated
// with the bilinear kernel's own taps and weights, i.e. equal to indexing
// origin_similarity_map() (to float32 rounding) without building the H x W
// map. Differentiable in `sim`.
torch::Tensor origin_similarity_map_at(const torch::Tensor& sim, int64_t H, int64_t W,
                                       int64_t target_size, const torch::Tensor& ys,
                                       const torch::Tensor& xs);

// 3.3: the coarse selection grid.
struct CoarseGrid {
  torch::Tensor map;  // f32 [h, w]: min-max in [0, 1], padding cells -1 (row-major = flat index)
  int64_t h = 0, w = 0;
  double scale_h = 0, scale_w = 0;  // H / h, W / w (the reference's Python floats)
  SaspPad pad;
};
CoarseGrid coarse_grid(const torch::Tensor& sim, int64_t H, int64_t W, int64_t down_sample);

// 3.4: selection over the flattened coarse map.
struct SaspSelection {
  torch::Tensor indices;  // i64 [K] flat indices into the coarse map, in selection order
  torch::Tensor labels;   // i64 [K] 1 / 0 / -1
  int64_t num_pos = 0, num_neg = 0, num_neutral = 0;  // before truncation to num_points
  double t_pos = 0, t_neg = 0;                        // thresholds actually used
};
SaspSelection select_points(const CoarseGrid& grid, const SaspConfig& cfg);

// 3.5: discrete (x, y) pixel coordinates, i64 [K, 2], computed in float32 and
// truncated exactly like the reference.
torch::Tensor discrete_coordinates(const torch::Tensor& indices, const CoarseGrid& grid,
                                   int64_t H, int64_t W);

// 3.6: discrete -> continuous. For each discrete point q, the weighted mean of
// pixel coordinates g with weights exp(origin_sm(g) - dist(g, q)) (dist =
// squared distance for the code variant, distance for the paper variant).
// Local-window version: only pixels within `radius` of q (the softmax
// denominator of the reference cancels; farther weights are below float
// precision). Differentiable in origin_sm. points_discrete i64 [K, 2] -> f32 [K, 2].
torch::Tensor discrete_to_continuous(const torch::Tensor& origin_sm,
                                     const torch::Tensor& points_discrete, int64_t radius,
                                     SaspConfig::Variant variant = SaspConfig::Variant::kCode);
// The same from the similarity vector: origin_sm is evaluated only at the
// window pixels (origin_similarity_map_at), so the cost no longer grows with
// the image size. This is what similarity_as_points uses.
torch::Tensor discrete_to_continuous_from_similarity(const torch::Tensor& sim, int64_t H, int64_t W,
                                                     int64_t target_size,
                                                     const torch::Tensor& points_discrete,
                                                     int64_t radius,
                                                     SaspConfig::Variant variant = SaspConfig::Variant::kCode);
// The reference's version: softmax over all H*W pixels, one full-image pass per point.
torch::Tensor discrete_to_continuous_full_grid(
    const torch::Tensor& origin_sm, const torch::Tensor& points_discrete,
    SaspConfig::Variant variant = SaspConfig::Variant::kCode);

// SAM's ResizeLongestSide.get_preprocess_shape: (int(H*s + 0.5), int(W*s + 0.5)),
// s = long_side / max(H, W).
std::pair<int64_t, int64_t> sam_preprocess_shape(int64_t H, int64_t W, int64_t long_side);

// 3.7: points (x, y) in original pixels -> SAM input frame: x *= sam_w / W,
// y *= sam_h / H (float32, differentiable). The prompt encoder adds 0.5.
torch::Tensor points_to_sam_frame(const torch::Tensor& points, int64_t H, int64_t W,
                                  int64_t sam_h, int64_t sam_w);

struct SaspResult {
  torch::Tensor points;           // f32 [K, 2] (x, y) original pixels; carries autograd
  torch::Tensor labels;           // i64 [K]
  // intermediates (for tests and diagnostics)
  torch::Tensor similarity;       // [Nt] input dtype
  torch::Tensor origin_sm;        // f32 [H, W]; only with keep_origin_sm or the full grid
  CoarseGrid grid;
  SaspSelection selection;
  torch::Tensor points_discrete;  // i64 [K, 2]
};

// The whole of section 3 for one [SEG] of one conversation: `image_hidden`
// [Nt, D] are that conversation's own image-token hidden states (improvement
// over the reference, which assumes one [SEG] per conversation and takes the
// <im_start> position from row 0: spec 10.1/10.3), `seg_hidden` [D] the raw
// final-norm hidden state at the [SEG] position, (H, W) the original image
// size. Nothing is detached: gradients reach both inputs through origin_sm
// and the D2C weights (3.8).
SaspResult similarity_as_points(const torch::Tensor& image_hidden, const torch::Tensor& seg_hidden,
                                int64_t H, int64_t W, const SaspConfig& cfg = {});

// The points stage alone, from a given similarity vector [Nt] (the fixtures
// feed their stored similarity here for exact discrete checks).
SaspResult similarity_map_to_points(const torch::Tensor& sim, int64_t H, int64_t W,
                                    const SaspConfig& cfg = {});

}  // namespace rd
