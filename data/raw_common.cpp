#include "data/raw_common.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "data/lmdb_store.h"

namespace rd {
namespace fs = std::filesystem;

std::string BuildContext::path(const std::string& rel) const {
  return (fs::path(root_) / rel).string();
}

bool BuildContext::exists(const std::string& rel) const {
  std::error_code ec;
  return fs::is_regular_file(path(rel), ec);
}

std::string BuildContext::read(const std::string& rel) const {
  const std::string p = path(rel);
  std::error_code ec;
  READ_CHECK(fs::is_regular_file(p, ec), p, ": missing file");
  std::ifstream f(p, std::ios::binary);
  READ_CHECK(f, p, ": cannot read");
  std::ostringstream ss;
  ss << f.rdbuf();
  READ_CHECK(!f.bad(), p, ": read error");
  return ss.str();
}

ImageInfo BuildContext::image(const std::string& rel, PendingBlobs& out) {
  auto it = infos_.find(rel);
  if (it != infos_.end() && writer_ && writer_->has_blob(rel)) return it->second;
  std::string bytes = read(rel);
  ImageInfo info = it != infos_.end() ? it->second : check_image(bytes, path(rel));
  infos_[rel] = info;
  out.emplace_back(rel, std::move(bytes));
  return info;
}

ImageRef BuildContext::image_ref(const std::string& rel, PendingBlobs& out, int64_t canvas_h,
                                 int64_t canvas_w) {
  const ImageInfo info = image(rel, out);
  ImageRef ref;
  ref.key = rel;
  ref.orientation = info.exif_orientation;
  ref.height = info.display_height(), ref.width = info.display_width();
  if (canvas_h > 0 || canvas_w > 0) {
    if (ref.height == canvas_h && ref.width == canvas_w) return ref;
    if (info.stored_height == canvas_h && info.stored_width == canvas_w) {
      ref.orientation = 1;  // annotations are in stored coordinates
      ref.height = info.stored_height, ref.width = info.stored_width;
      return ref;
    }
    fail(path(rel), ": image is ", info.stored_height, "x", info.stored_width,
         " (EXIF orientation ", info.exif_orientation, ": ", info.display_height(), "x",
         info.display_width(), " displayed), the annotations are for ", canvas_h, "x", canvas_w);
  }
  return ref;
}

nlohmann::json parse_json_text(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(what, ": malformed JSON (", e.what(), ")");
  }
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    if (len == 2 && c < 0xC2) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    if (len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return false;
    }
    if (len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c > 0xF4 || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return false;
    }
    i += len;
  }
  return true;
}

namespace {
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}
}  // namespace

std::string cp1252_to_utf8(const std::string& s, const std::string& what) {
  // 0x80..0x9F of Windows-1252 (0 = undefined: Python's cp1252 codec fails there).
  static const uint16_t k80[32] = {0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                   0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
                                   0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                   0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    if (c >= 0x80 && c < 0xA0) {
      cp = k80[c - 0x80];
      READ_CHECK(cp != 0, what, ": neither UTF-8 nor cp1252 (byte 0x", std::hex, int{c}, std::dec,
                 " at ", i, ")");
    }
    append_utf8(out, cp);
  }
  return out;
}

std::string latin1_to_utf8(const std::string& s) {
  std::string out;
  for (unsigned char c : s) append_utf8(out, c);
  return out;
}

std::vector<std::string> list_files(const std::string& dir, const std::string& extension) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == extension)
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

const nlohmann::json& json_at(const nlohmann::json& j, const char* key, const std::string& what) {
  READ_CHECK(j.is_object() && j.contains(key), what, ": missing key '", key, "'");
  return j[key];
}

std::string json_string(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto& v = json_at(j, key, what);
  READ_CHECK(v.is_string(), what, ": '", key, "' is not a string (", v.dump().substr(0, 80), ")");
  return v.get<std::string>();
}

int64_t json_int(const nlohmann::json& j, const char* key, const std::string& what) {
  const auto& v = json_at(j, key, what);
  READ_CHECK(v.is_number_integer(), what, ": '", key, "' is not an integer (", v.dump().substr(0, 80), ")");
  return v.get<int64_t>();
}

}  // namespace rd
