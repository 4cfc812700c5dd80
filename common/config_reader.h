// Strict YAML configuration reading (yaml-cpp).
//
// A config struct reads itself through a ConfigReader: every key it asks for
// is known; a key in the file that nobody asked for is an error naming its
// path and the closest known key. Wrong types name the key, the expected type
// and the value; missing required keys are named. Every value read (given or
// defaulted) is recorded so the resolved configuration can be printed.
#pragma once
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace rd {

// Loads a YAML file; a parse error names the file, line and column.
YAML::Node load_yaml_file(const std::string& path);

// Applies "a.b.c=value" to the tree (value parsed as YAML, so 3, 1e-4, true,
// [1,2] and strings all work). Creates missing mappings.
void apply_override(YAML::Node& root, const std::string& assignment);

// Levenshtein-closest of `candidates` to `word` ("" when none is close).
std::string closest_key(const std::string& word, const std::vector<std::string>& candidates);

class ConfigReader;

// One section of a YAML file, read strictly by read(ConfigReader&) (unknown
// keys inside it are errors; the file's other sections are not looked at),
// after the "a.b=value" overrides.
template <typename Read>
auto read_config_section(const std::string& path, const std::vector<std::string>& overrides,
                         const std::string& section, Read read);

class ConfigReader {
 public:
  // `source` names the file (for messages); `prefix` is this mapping's path.
  ConfigReader(YAML::Node node, std::string source, std::string prefix = "");

  template <typename T>
  T get(const std::string& key, const T& fallback);  // optional key
  template <typename T>
  T required(const std::string& key);  // missing -> error naming the key

  // A path that must exist (file or directory); relative paths are resolved
  // against the config file's directory when `relative_to_config`.
  std::string existing_path(const std::string& key, bool relative_to_config = true);
  // existing_path(key) when `must_exist`, else the value as written (the
  // trainer's --plan, where the real weights and data need not be here).
  std::string path(const std::string& key, bool must_exist) {
    return must_exist ? existing_path(key) : required<std::string>(key);
  }

  bool has(const std::string& key) const;
  ConfigReader child(const std::string& key);  // nested mapping (may be absent)
  // A list of mappings: one reader per element, paths "key[i]".
  std::vector<ConfigReader> items(const std::string& key);
  std::string path_of(const std::string& key) const;

  // Errors on keys of this mapping that were never asked for.
  void finish() const;

  // Value checks whose messages name the key: "key 'a.b' is 'x', expected one
  // of: p, q" and "key 'a.b' must be positive, got 0".
  void check_one_of(const std::string& key, const std::string& value,
                    std::initializer_list<const char*> allowed) const;
  void check_positive(const std::string& key, double value) const;

  // "a.b.c: value" for every value read, in reading order (shared by children).
  std::string resolved() const;
  const std::string& source() const { return *source_; }

 private:
  YAML::Node lookup(const std::string& key);
  void record(const std::string& key, const std::string& value);
  [[noreturn]] void wrong_type(const std::string& key, const char* expected,
                               const YAML::Node& v) const;

  YAML::Node node_;
  std::shared_ptr<std::string> source_;
  std::string prefix_;
  std::shared_ptr<std::set<std::string>> asked_;  // this mapping's known keys
  std::shared_ptr<std::vector<std::pair<std::string, std::string>>> log_;
  std::shared_ptr<std::vector<ConfigReader>> children_;
};

namespace detail {
template <typename T>
struct YamlType;
template <> struct YamlType<int> { static constexpr const char* name = "an integer"; };
template <> struct YamlType<long long> { static constexpr const char* name = "an integer"; };
template <> struct YamlType<long> { static constexpr const char* name = "an integer"; };
template <> struct YamlType<double> { static constexpr const char* name = "a number"; };
template <> struct YamlType<float> { static constexpr const char* name = "a number"; };
template <> struct YamlType<bool> { static constexpr const char* name = "a boolean"; };
template <> struct YamlType<std::string> { static constexpr const char* name = "a string"; };
template <> struct YamlType<std::vector<double>> { static constexpr const char* name = "a list of numbers"; };
template <> struct YamlType<std::vector<int>> { static constexpr const char* name = "a list of integers"; };
template <> struct YamlType<std::vector<std::string>> { static constexpr const char* name = "a list of strings"; };
std::string to_text(const YAML::Node& v);
template <typename T>
std::string format_value(const T& v) {
  std::ostringstream os;
  os << std::boolalpha << v;
  return os.str();
}
template <typename T>
std::string format_value(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format_value(v[i]);
  return s + "]";
}
}  // namespace detail

template <typename T>
T ConfigReader::get(const std::string& key, const T& fallback) {
  YAML::Node v = lookup(key);
  if (!v || v.IsNull()) {
    record(key, detail::format_value(fallback) + "  # default");
    return fallback;
  }
  T out;
  bool ok = false;
  try {
    ok = YAML::convert<T>::decode(v, out);  // lists throw on a bad element
  } catch (const YAML::Exception&) {
    ok = false;
  }
  if (!ok) wrong_type(key, detail::YamlType<T>::name, v);
  record(key, detail::to_text(v));
  return out;
}

template <typename T>
T ConfigReader::required(const std::string& key) {
  YAML::Node v = lookup(key);
  if (!v || v.IsNull())
    fail(*source_, ": missing required key '", path_of(key), "' (", detail::YamlType<T>::name, ")");
  return get<T>(key, T{});
}

template <typename Read>
auto read_config_section(const std::string& path, const std::vector<std::string>& overrides,
                         const std::string& section, Read read) {
  YAML::Node root = load_yaml_file(path);
  for (const auto& o : overrides) apply_override(root, o);
  ConfigReader r(root, path);
  if (!r.has(section)) fail(path, ": no '", section, ":' section");
  ConfigReader s = r.child(section);
  auto value = read(s);
  s.finish();
  return value;
}

}  // namespace rd
