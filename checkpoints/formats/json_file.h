// JsonFile: a JSON file (config.json, *.index.json, adapter_config.json) whose
// errors name the file and the key: "base/config.json: key 'hidden_size':
// expected an integer, got string \"4096\"". Keys are top-level names, or JSON
// pointers for nested values ("/vision_config/hidden_size").
#pragma once
#include <nlohmann/json.hpp>
#include <limits>
#include <string>
#include <type_traits>

#include "common/error.h"

namespace rd {

// Parses the file; a syntax error names the file and the byte offset.
nlohmann::json read_json_file(const std::string& path);

// `path` itself, or `path/file_name` when path is a folder (a HF model folder
// given for its config.json, a PEFT folder for its adapter_config.json).
std::string json_file_in(const std::string& path, const char* file_name);

[[noreturn]] void json_type_error(const nlohmann::json& v, const std::string& source, const std::string& key,
                                  const char* want);

// The value v found at `key` of `source` as T: integers must be JSON
// integers (in T's range), floats any number, bools booleans, strings
// strings; other T go through nlohmann's conversion. Errors name source and key.
template <typename T>
T json_as(const nlohmann::json& v, const std::string& source, const std::string& key) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) json_type_error(v, source, key, "a boolean");
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) json_type_error(v, source, key, "an integer");
    if constexpr (std::is_unsigned_v<T>)
      if (!v.is_number_unsigned()) json_type_error(v, source, key, "a non-negative integer");
    const bool fits = v.is_number_unsigned()
                          ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                          : v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                (v.get<int64_t>() < 0 ||
                                 static_cast<uint64_t>(v.get<int64_t>()) <=
                                     static_cast<uint64_t>(std::numeric_limits<T>::max()));
    if (!fits) json_type_error(v, source, key, "an integer in range");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) json_type_error(v, source, key, "a number");
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) json_type_error(v, source, key, "a string");
  }
  try {
    return v.get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": key '", key, "': ", e.what());
  }
}

// out = j[key] as T (json_as) when the object j has key and it is not null;
// otherwise out keeps its value (the config's default).
template <typename T>
void read_json_field(const nlohmann::json& j, const std::string& key, T& out, const std::string& source) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = json_as<T>(*it, source, key);
}

class JsonFile {
 public:
  explicit JsonFile(const std::string& path);
  const std::string& path() const { return path_; }
  const nlohmann::json& root() const { return root_; }

  bool has(const std::string& key) const { return find(key) != nullptr; }
  // The value at key (throws naming the file and key when absent).
  const nlohmann::json& at(const std::string& key) const;

  // Typed reads with json_as's rules.
  template <typename T>
  T get(const std::string& key) const {
    return json_as<T>(at(key), path_, key);
  }
  // Like get, but `fallback` when the key is absent or null.
  template <typename T>
  T get_or(const std::string& key, T fallback) const {
    const nlohmann::json* v = find(key);
    return (v && !v->is_null()) ? json_as<T>(*v, path_, key) : fallback;
  }

 private:
  const nlohmann::json* find(const std::string& key) const;

  std::string path_;
  nlohmann::json root_;
};

}  // namespace rd
