#include "trainer/segmentation_metrics.h"

#include "common/error.h"

namespace rd {

void SegmentationMetrics::add(const torch::Tensor& pred0, const torch::Tensor& gt0) {
  READ_CHECK(pred0.sizes() == gt0.sizes(), "metrics: prediction ", pred0.sizes(), " vs ground truth ",
             gt0.sizes());
  torch::Tensor gt = gt0.to(torch::kInt64).flatten();
  torch::Tensor valid = gt.ne(255);
  torch::Tensor pred = pred0.flatten().ne(0) & valid;
  torch::Tensor target = gt.eq(1);
  double i = (pred & target).sum().item<double>();
  double u = pred.sum().item<double>() + target.sum().item<double>() - i;
  intersection_ += i;
  union_ += u;
  iou_sum_ += u == 0 ? 1.0 : i / (u + 1e-5);
  ++queries_;
}

void SegmentationMetrics::merge(const SegmentationMetrics& o) {
  intersection_ += o.intersection_;
  union_ += o.union_;
  iou_sum_ += o.iou_sum_;
  queries_ += o.queries_;
}

SegmentationMetrics SegmentationMetrics::from_vector(const std::vector<double>& v) {
  READ_CHECK(v.size() == 4, "metrics: expected 4 values");
  SegmentationMetrics m;
  m.intersection_ = v[0], m.union_ = v[1], m.iou_sum_ = v[2], m.queries_ = static_cast<int64_t>(v[3]);
  return m;
}

}  // namespace rd
