#include "trainer/metrics_log.h"

#include <filesystem>

#include "common/error.h"

namespace rd {

MetricsLog::MetricsLog(const std::string& output_dir)
    : tb_((std::filesystem::create_directories(output_dir), output_dir + "/tensorboard")) {
  std::string path = output_dir + "/metrics.jsonl";
  jsonl_.open(path, std::ios::app);
  READ_CHECK(jsonl_, path, ": cannot open for writing");
}

void MetricsLog::scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  nlohmann::json j = {{"step", step}};
  for (const auto& [k, v] : values) {
    j[k] = v;
    tb_.scalar(k, v, step);
  }
  jsonl_ << j.dump() << "\n";
  jsonl_.flush();
  tb_.flush();
}

void MetricsLog::note(const std::string& kind, const nlohmann::json& fields) {
  nlohmann::json j = fields;
  j["event"] = kind;
  jsonl_ << j.dump() << "\n";
  jsonl_.flush();
}

}  // namespace rd
