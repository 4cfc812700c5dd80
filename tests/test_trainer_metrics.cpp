// gIoU / cIoU as spec/data.md 7, on hand-made masks.
#include <gtest/gtest.h>

#include "trainer/segmentation_metrics.h"

TEST(Metrics, HandComputed) {
  rd::SegmentationMetrics m;
  // query 1: pred 4 px, gt 2 px, overlap 2 -> I 2, U 4
  torch::Tensor p1 = torch::zeros({4, 4}, torch::kUInt8), g1 = torch::zeros({4, 4}, torch::kUInt8);
  p1.slice(0, 0, 1).fill_(1);
  g1[0][0] = 1, g1[0][1] = 1;
  m.add(p1, g1);
  // query 2: both empty -> iou 1, I 0, U 0
  m.add(torch::zeros({2, 2}), torch::zeros({2, 2}));
  // query 3: pred everywhere, gt 1 px and 255 elsewhere -> ignored pixels do not count
  torch::Tensor g3 = torch::full({3, 3}, 255, torch::kUInt8);
  g3[1][1] = 1;
  m.add(torch::ones({3, 3}), g3);
  EXPECT_EQ(m.queries(), 3);
  EXPECT_NEAR(m.giou(), (2.0 / (4 + 1e-5) + 1.0 + 1.0 / (1 + 1e-5)) / 3, 1e-12);
  EXPECT_NEAR(m.ciou(), 3.0 / 5.0, 1e-12);
  auto back = rd::SegmentationMetrics::from_vector(m.to_vector());
  EXPECT_EQ(back.giou(), m.giou());
}
