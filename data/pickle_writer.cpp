#include "data/pickle_writer.h"

#include <fstream>

#include "common/error.h"

namespace rd {
namespace {
void put_u32(std::string& out, uint32_t n) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
}

void dump(std::string& out, const PickleValue& value) {
  if (std::holds_alternative<std::monostate>(value.v)) {
    out.push_back('N');  // NONE
  } else if (auto* b = std::get_if<bool>(&value.v)) {
    out.push_back(*b ? '\x88' : '\x89');  // NEWTRUE / NEWFALSE
  } else if (auto* i = std::get_if<int64_t>(&value.v)) {
    READ_CHECK(*i >= INT32_MIN && *i <= INT32_MAX, "pickle_dumps: integer ", *i, " needs LONG1");
    out.push_back('J');  // BININT
    put_u32(out, static_cast<uint32_t>(static_cast<int32_t>(*i)));
  } else if (auto* s = std::get_if<std::string>(&value.v)) {
    out.push_back('X');  // BINUNICODE
    put_u32(out, static_cast<uint32_t>(s->size()));
    out += *s;
  } else if (auto* l = std::get_if<std::shared_ptr<PickleList>>(&value.v)) {
    out += "](";  // EMPTY_LIST MARK
    for (const auto& e : **l) dump(out, e);
    out.push_back('e');  // APPENDS
  } else if (auto* d = std::get_if<std::shared_ptr<PickleDict>>(&value.v)) {
    out += "}(";  // EMPTY_DICT MARK
    for (const auto& [k, e] : (*d)->items) dump(out, k), dump(out, e);
    out.push_back('u');  // SETITEMS
  }
}
}  // namespace

std::string pickle_dumps(const PickleValue& value) {
  std::string out = "\x80\x02";  // PROTO 2
  dump(out, value);
  out.push_back('.');  // STOP
  return out;
}

void write_pickle(const std::filesystem::path& path, const PickleValue& value) {
  std::filesystem::create_directories(path.parent_path());
  std::string bytes = pickle_dumps(value);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), bytes.size());
  READ_CHECK(f, path.string(), ": write failed");
}

}  // namespace rd
