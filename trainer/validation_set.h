// The packed validation set (ReasonSeg val, spec/data.md 7): one query per
// image (text[0]), the fixed evaluation templates, a teacher-forced answer
// with [SEG], and the ground truth keeping 255 as ignore.
#pragma once
#include <memory>
#include <vector>

#include "data/lmdb_store.h"
#include "data/train_loader.h"
#include "model/read_model_config.h"
#include "trainer/train_config.h"

namespace rd {

struct ValidationItem {
  ReadBatch batch;                          // one image, one conversation
  std::vector<torch::Tensor> ground_truth;  // u8 {0,1,255} [H, W] per [SEG]
};

class ValidationSet {
 public:
  ValidationSet(const TrainConfig& config, const ReadModelConfig& model, TextEncoder encoder);
  int64_t size() const { return size_; }
  ValidationItem get(int64_t i) const;

 private:
  std::unique_ptr<PackReader> store_;
  TrainLoaderConfig loader_config_;
  TextEncoder encoder_;
  int64_t size_ = 0;
};

}  // namespace rd
