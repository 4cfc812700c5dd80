#include "checkpoints/formats/json_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace rd {
using nlohmann::json;

json read_json_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  READ_CHECK(f, path, ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::parse_error& e) {
    fail(path, ": invalid JSON at byte ", e.byte, ": ", e.what());
  }
}

std::string json_file_in(const std::string& path, const char* file_name) {
  std::filesystem::path p = path;
  if (std::filesystem::is_directory(p)) p /= file_name;
  return p.string();
}

void json_type_error(const json& v, const std::string& source, const std::string& key, const char* want) {
  std::string shown = v.dump();
  if (shown.size() > 80) shown = shown.substr(0, 80) + "...";
  fail(source, ": key '", key, "': expected ", want, ", got ", v.type_name(), " ", shown);
}

JsonFile::JsonFile(const std::string& path) : path_(path), root_(read_json_file(path)) {
  READ_CHECK(root_.is_object(), path, ": expected a JSON object at the top level, got ",
             root_.type_name());
}

const json* JsonFile::find(const std::string& key) const {
  if (!key.empty() && key[0] == '/') {
    try {
      json::json_pointer p(key);
      return root_.contains(p) ? &root_.at(p) : nullptr;
    } catch (const json::exception& e) {
      fail(path_, ": bad key '", key, "': ", e.what());
    }
  }
  auto it = root_.find(key);
  return it == root_.end() ? nullptr : &*it;
}

const json& JsonFile::at(const std::string& key) const {
  const json* v = find(key);
  READ_CHECK(v, path_, ": missing key '", key, "'");
  return *v;
}

}  // namespace rd
