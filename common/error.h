// rd::Error: the one exception type for bad input and failed invariants.
// Messages name the file, key or record at fault; no stack-trace noise.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace rd {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// Builds a message from its parts: fail("file ", path, ": bad header").
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(os.str());
}

}  // namespace rd

// READ_CHECK(cond, parts...): throws rd::Error with the parts when cond is false.
#define READ_CHECK(cond, ...)              \
  do {                                     \
    if (!(cond)) ::rd::fail(__VA_ARGS__); \
  } while (0)
