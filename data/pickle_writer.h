// A minimal protocol-2 pickle writer for plain data (the shape of refCOCO's
// refs(<splitBy>).p: a list of dicts of str / int / bool / lists). Used by
// the synthetic dataset generator; reading is checkpoints/formats/pickle.h.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace rd {

struct PickleValue;
using PickleList = std::vector<PickleValue>;

struct PickleDict {
  std::vector<std::pair<std::string, PickleValue>> items;  // insertion order
  template <typename T>
  PickleDict& set(const std::string& key, T&& value);
};

struct PickleValue {
  std::variant<std::monostate, bool, int64_t, std::string, std::shared_ptr<PickleList>,
               std::shared_ptr<PickleDict>>
      v;
  PickleValue() = default;
  PickleValue(bool b) : v(b) {}
  PickleValue(int i) : v(static_cast<int64_t>(i)) {}
  PickleValue(int64_t i) : v(i) {}
  PickleValue(const char* s) : v(std::string(s)) {}
  PickleValue(std::string s) : v(std::move(s)) {}
  PickleValue(PickleList l) : v(std::make_shared<PickleList>(std::move(l))) {}
  PickleValue(PickleDict d) : v(std::make_shared<PickleDict>(std::move(d))) {}
};

template <typename T>
PickleDict& PickleDict::set(const std::string& key, T&& value) {
  items.emplace_back(key, PickleValue(std::forward<T>(value)));
  return *this;
}

std::string pickle_dumps(const PickleValue& value);
void write_pickle(const std::filesystem::path& path, const PickleValue& value);

}  // namespace rd
