#include "data/image_check.h"

#include <turbojpeg.h>

#include <cstring>
#include <memory>

#include "common/error.h"

namespace rd {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload; 1 if absent.
int exif_orientation(const uint8_t* p, size_t n) {
  if (n < 14 || std::memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* t = p + 6;
  const size_t tn = n - 6;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t off) -> uint32_t {
    return le ? static_cast<uint32_t>(t[off] | t[off + 1] << 8) : be16(t + off);
  };
  auto u32 = [&](size_t off) -> uint32_t {
    return le ? static_cast<uint32_t>(t[off]) | static_cast<uint32_t>(t[off + 1]) << 8 |
                    static_cast<uint32_t>(t[off + 2]) << 16 | static_cast<uint32_t>(t[off + 3]) << 24
              : be32(t + off);
  };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd + 2 > tn) return 1;
  const size_t count = u16(ifd);
  for (size_t e = 0; e < count; ++e) {
    const size_t off = ifd + 2 + e * 12;
    if (off + 12 > tn) return 1;
    if (u16(off) == 0x0112) {
      const int v = static_cast<int>(u16(off + 8));
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

ImageInfo check_jpeg(const std::string& bytes, const std::string& what) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  ImageInfo info;
  info.format = ImageFormat::kJpeg;
  {
    std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
    READ_CHECK(tj, what, ": turbojpeg initialisation failed");
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj.get(), p, static_cast<unsigned long>(n), &w, &h, &subsamp,
                            &colorspace) != 0)
      fail(what, ": unreadable JPEG header (", tjGetErrorStr2(tj.get()), ")");
    info.stored_width = w, info.stored_height = h;
  }
  bool exif_seen = false, sof_seen = false;
  size_t i = 2;
  while (true) {
    READ_CHECK(i + 4 <= n, what, ": truncated JPEG (ends before the scan data)");
    READ_CHECK(p[i] == 0xFF, what, ": corrupt JPEG (no marker at byte ", i, ")");
    const uint8_t m = p[i + 1];
    if (m == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
      i += 2;
      continue;
    }
    const size_t len = be16(p + i + 2);
    READ_CHECK(len >= 2 && i + 2 + len <= n, what, ": truncated JPEG (segment 0xFF",
               std::hex, static_cast<int>(m), std::dec, " at byte ", i, ")");
    const uint8_t* seg = p + i + 4;
    const size_t seg_n = len - 2;
    if (m == 0xE1 && !exif_seen && seg_n >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      exif_seen = true;
      info.exif_orientation = exif_orientation(seg, seg_n);
    }
    if (!sof_seen && m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      READ_CHECK(seg_n >= 6, what, ": corrupt JPEG frame header");
      sof_seen = true;
      info.components = seg[5];
      info.progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
    }
    if (m == 0xDA) {  // start of scan: entropy-coded data follows
      i += 2 + len;
      break;
    }
    READ_CHECK(m != 0xD9, what, ": JPEG ends before any scan data");
    i += 2 + len;
  }
  READ_CHECK(sof_seen, what, ": JPEG without a frame header");
  // Inside entropy-coded data 0xFF is always followed by 0x00 or a marker,
  // so an EOI (FF D9) after the first scan marks a complete file.
  bool eoi = false;
  for (size_t j = i; j + 1 < n; ++j) {
    if (p[j] == 0xFF && p[j + 1] == 0xD9) {
      eoi = true;
      break;
    }
  }
  READ_CHECK(eoi, what, ": truncated JPEG (no end-of-image marker after the scan data)");
  return info;
}

ImageInfo check_png(const std::string& bytes, const std::string& what) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  READ_CHECK(n >= 33 && std::memcmp(p + 12, "IHDR", 4) == 0, what, ": corrupt PNG (no IHDR)");
  ImageInfo info;
  info.format = ImageFormat::kPng;
  info.stored_width = static_cast<int>(be32(p + 16));
  info.stored_height = static_cast<int>(be32(p + 20));
  READ_CHECK(n >= 12 && std::memcmp(p + n - 8, "IEND", 4) == 0, what,
             ": truncated PNG (no IEND chunk at the end)");
  return info;
}

}  // namespace

ImageInfo check_image(const std::string& bytes, const std::string& what) {
  static const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  READ_CHECK(!bytes.empty(), what, ": empty image file");
  ImageInfo info;
  if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
      static_cast<uint8_t>(bytes[1]) == 0xD8)
    info = check_jpeg(bytes, what);
  else if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSig, 8) == 0)
    info = check_png(bytes, what);
  else
    fail(what, ": not a JPEG or PNG image");
  READ_CHECK(info.stored_width > 0 && info.stored_height > 0, what, ": image size ",
             info.stored_width, "x", info.stored_height, " is empty");
  return info;
}

}  // namespace rd
