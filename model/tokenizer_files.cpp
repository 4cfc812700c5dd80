#include "model/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace rd {
namespace fs = std::filesystem;

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  READ_CHECK(fs::exists(fs::path(from) / "tokenizer.model"), "tokenizer folder ", from, ": no tokenizer.model");
  fs::create_directories(to);
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}) {
    const fs::path src = fs::path(from) / name;
    if (fs::exists(src)) fs::copy_file(src, fs::path(to) / name, fs::copy_options::overwrite_existing);
  }
}

void save_read_tokenizer(const Tokenizer& tokenizer, const std::string& from, const std::string& to) {
  copy_tokenizer_files(from, to);
  const fs::path p = fs::path(to) / "added_tokens.json";
  nlohmann::json added = nlohmann::json::object();  // other added tokens of the source are kept
  if (fs::exists(p)) {
    std::ifstream in(p);
    added = nlohmann::json::parse(in, nullptr, false);
    READ_CHECK(added.is_object(), p.string(), ": not a JSON object");
  }
  added["[SEG]"] = tokenizer.seg_id();
  added["<im_start>"] = tokenizer.im_start_id();
  added["<im_end>"] = tokenizer.im_end_id();
  std::ofstream f(p);
  f << added.dump(2) << "\n";
  READ_CHECK(f.flush(), p.string(), ": write failed");
}

}  // namespace rd
