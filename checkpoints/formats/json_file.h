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

class JsonFile {
 public:
  explicit JsonFile(const std::string& path);
  const std::string& path() const { return path_; }
  const nlohmann::json& root() const { return root_; }

  bool has(const std::string& key) const { return find(key) != nullptr; }
  // The value at key (throws naming the file and key when absent).
  const nlohmann::json& at(const std::string& key) const;

  // Typed reads: integers must be JSON integers, floats any number, bools
  // booleans, strings strings; other T go through nlohmann's conversion.
  template <typename T>
  T get(const std::string& key) const {
    return convert<T>(at(key), key);
  }
  // Like get, but `fallback` when the key is absent or null.
  template <typename T>
  T get_or(const std::string& key, T fallback) const {
    const nlohmann::json* v = find(key);
    return (v && !v->is_null()) ? convert<T>(*v, key) : fallback;
  }

 private:
  const nlohmann::json* find(const std::string& key) const;
  [[noreturn]] void type_error(const nlohmann::json& v, const std::string& key, const char* want) const;

  template <typename T>
  T convert(const nlohmann::json& v, const std::string& key) const {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) type_error(v, key, "a boolean");
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) type_error(v, key, "an integer");
      if constexpr (std::is_unsigned_v<T>)
        if (!v.is_number_unsigned()) type_error(v, key, "a non-negative integer");
      const bool fits = v.is_number_unsigned()
                            ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                            : v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                  (v.get<int64_t>() < 0 ||
                                   static_cast<uint64_t>(v.get<int64_t>()) <=
                                       static_cast<uint64_t>(std::numeric_limits<T>::max()));
      if (!fits) type_error(v, key, "an integer in range");
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) type_error(v, key, "a number");
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) type_error(v, key, "a string");
    }
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception& e) {
      fail(path_, ": key '", key, "': ", e.what());
    }
  }

  std::string path_;
  nlohmann::json root_;
};

}  // namespace rd
