// Rank 0's run log: metrics.jsonl (one JSON object per line: step + values)
// and TensorBoard scalars under <output_dir>/tensorboard.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "trainer/tensorboard_writer.h"

namespace rd {

class MetricsLog {
 public:
  explicit MetricsLog(const std::string& output_dir);
  void scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void note(const std::string& kind, const nlohmann::json& fields);  // e.g. best model

 private:
  std::ofstream jsonl_;
  TensorBoardWriter tb_;
};

}  // namespace rd
