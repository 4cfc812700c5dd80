#include "common/config_reader.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace rd {
namespace fs = std::filesystem;

YAML::Node load_yaml_file(const std::string& path) {
  if (!fs::exists(path)) fail("config file not found: ", path);
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    fail(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML error: ", e.msg);
  }
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  auto eq = assignment.find('=');
  READ_CHECK(eq != std::string::npos && eq > 0,
             "--set expects key.path=value, got '", assignment, "'");
  std::string path = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    READ_CHECK(!p.empty(), "--set: empty component in key path '", path, "'");
    parts.push_back(p);
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    fail("--set ", path, ": cannot parse value '", value, "': ", e.msg);
  }
  // Walk with fresh handles: yaml-cpp Node assignment rebinds, so descend by
  // building the chain of nodes.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (!next.IsMap()) {
      READ_CHECK(!next.IsDefined() || next.IsNull(), "--set ", path, ": '", parts[i],
                 "' is not a mapping");
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[parts[i]];
    }
    chain.push_back(next);
  }
  chain.back()[parts.back()] = parsed;
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_key(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough to be a typo: at most a third of the word (and at least 2).
  if (best_d > std::max<size_t>(2, word.size() / 3)) return "";
  return best;
}

namespace detail {
std::string to_text(const YAML::Node& v) {
  YAML::Emitter e;
  e.SetDoublePrecision(15);
  e.SetFloatPrecision(7);
  e << YAML::Flow << v;
  return e.c_str();
}
}  // namespace detail

ConfigReader::ConfigReader(YAML::Node node, std::string source, std::string prefix)
    : node_(node),
      source_(std::make_shared<std::string>(std::move(source))),
      prefix_(std::move(prefix)),
      asked_(std::make_shared<std::set<std::string>>()),
      log_(std::make_shared<std::vector<std::pair<std::string, std::string>>>()),
      children_(std::make_shared<std::vector<ConfigReader>>()) {
  if (node_ && !node_.IsNull() && !node_.IsMap())
    fail(*source_, ": '", prefix_.empty() ? "<top level>" : prefix_, "' must be a mapping");
}

std::string ConfigReader::path_of(const std::string& key) const {
  return prefix_.empty() ? key : prefix_ + "." + key;
}

bool ConfigReader::has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

YAML::Node ConfigReader::lookup(const std::string& key) {
  asked_->insert(key);
  if (!node_ || !node_.IsMap()) return YAML::Node();
  return node_[key];
}

void ConfigReader::record(const std::string& key, const std::string& value) {
  log_->emplace_back(path_of(key), value);
}

void ConfigReader::wrong_type(const std::string& key, const char* expected,
                              const YAML::Node& v) const {
  fail(*source_, ": key '", path_of(key), "' expects ", expected, ", got '",
       detail::to_text(v), "'");
}

std::string ConfigReader::existing_path(const std::string& key, bool relative_to_config) {
  std::string p = required<std::string>(key);
  fs::path path(p);
  if (relative_to_config && path.is_relative() && !fs::exists(path))
    path = fs::path(*source_).parent_path() / path;
  if (!fs::exists(path))
    fail(*source_, ": key '", path_of(key), "' names a path that does not exist: ", p);
  return path.string();
}

ConfigReader ConfigReader::child(const std::string& key) {
  YAML::Node v = lookup(key);
  ConfigReader c(v ? v : YAML::Node(), *source_, path_of(key));
  c.source_ = source_;
  c.log_ = log_;
  children_->push_back(c);
  return c;
}

std::vector<ConfigReader> ConfigReader::items(const std::string& key) {
  YAML::Node v = lookup(key);
  std::vector<ConfigReader> out;
  if (!v || v.IsNull()) return out;
  if (!v.IsSequence()) wrong_type(key, "a list of mappings", v);
  for (size_t i = 0; i < v.size(); ++i) {
    ConfigReader c(v[i], *source_, path_of(key) + "[" + std::to_string(i) + "]");
    c.source_ = source_;
    c.log_ = log_;
    children_->push_back(c);
    out.push_back(c);
  }
  return out;
}

void ConfigReader::check_one_of(const std::string& key, const std::string& value,
                                std::initializer_list<const char*> allowed) const {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  fail(*source_, ": key '", path_of(key), "' is '", value, "', expected one of: ", list);
}

void ConfigReader::check_positive(const std::string& key, double value) const {
  READ_CHECK(value > 0, *source_, ": key '", path_of(key), "' must be positive, got ", value);
}

void ConfigReader::finish() const {
  if (node_ && node_.IsMap()) {
    std::vector<std::string> known(asked_->begin(), asked_->end());
    for (const auto& kv : node_) {
      std::string k = kv.first.as<std::string>();
      if (asked_->count(k)) continue;
      std::string near = closest_key(k, known);
      fail(*source_, ": unknown key '", path_of(k), "'",
           near.empty() ? std::string() : "; did you mean '" + path_of(near) + "'?");
    }
  }
  for (const auto& c : *children_) c.finish();
}

std::string ConfigReader::resolved() const {
  std::ostringstream os;
  for (const auto& [k, v] : *log_) os << k << ": " << v << "\n";
  return os.str();
}

}  // namespace rd
