// gIoU and cIoU (spec/data.md 7): per query, predictions are ignored where
// the ground truth is 255; I = |pred == gt == 1|, U = |pred == 1| + |gt == 1| - I;
// iou = I / (U + 1e-5), and 1.0 when U == 0. cIoU = sum I / sum U over all
// queries; gIoU = mean iou.
#pragma once
#include <torch/torch.h>

namespace rd {

class SegmentationMetrics {
 public:
  // pred: binary [H, W] (any dtype, nonzero = 1); gt: {0, 1, 255} [H, W].
  void add(const torch::Tensor& pred, const torch::Tensor& gt);
  // Merges another accumulator (e.g. from another rank).
  void merge(const SegmentationMetrics& other);
  double giou() const { return queries_ ? iou_sum_ / queries_ : 0.0; }
  double ciou() const { return union_ > 0 ? intersection_ / union_ : 0.0; }
  int64_t queries() const { return queries_; }

  // {intersection, union, iou_sum, queries} for an all-reduce.
  std::vector<double> to_vector() const { return {intersection_, union_, iou_sum_, double(queries_)}; }
  static SegmentationMetrics from_vector(const std::vector<double>& v);

 private:
  double intersection_ = 0, union_ = 0, iou_sum_ = 0;
  int64_t queries_ = 0;
};

}  // namespace rd
