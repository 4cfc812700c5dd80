#include "data/exif_orientation.h"

#include <cstring>
#include <utility>

namespace rd {

namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  bool little;
  bool ok(size_t off, size_t len) const { return off <= n && len <= n - off; }
  uint16_t u16(size_t off) const {
    return little ? uint16_t(p[off] | p[off + 1] << 8) : uint16_t(p[off] << 8 | p[off + 1]);
  }
  uint32_t u32(size_t off) const {
    return little ? uint32_t(p[off]) | uint32_t(p[off + 1]) << 8 | uint32_t(p[off + 2]) << 16 |
                        uint32_t(p[off + 3]) << 24
                  : uint32_t(p[off]) << 24 | uint32_t(p[off + 1]) << 16 |
                        uint32_t(p[off + 2]) << 8 | uint32_t(p[off + 3]);
  }
};

// Orientation from a TIFF structure (the APP1 payload after "Exif\0\0").
int tiff_orientation(const uint8_t* p, size_t n) {
  if (n < 8) return 1;
  Reader r{p, n, true};
  if (p[0] == 'I' && p[1] == 'I')
    r.little = true;
  else if (p[0] == 'M' && p[1] == 'M')
    r.little = false;
  else
    return 1;
  if (r.u16(2) != 42) return 1;
  const size_t ifd = r.u32(4);
  if (!r.ok(ifd, 2)) return 1;
  const int entries = r.u16(ifd);
  for (int i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + size_t(i) * 12;
    if (!r.ok(e, 12)) return 1;
    if (r.u16(e) == 0x0112) {
      // OpenCV reads the first 16 bits of the value field whatever the type.
      const int v = r.u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

}  // namespace

int jpeg_exif_orientation(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return 1;  // not at a marker: give up, as OpenCV does
    uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) return 1;  // EOI / start of scan: no EXIF before data
    const size_t len = size_t(data[pos]) << 8 | data[pos + 1];
    if (len < 2 || pos + len > size) return 1;
    if (marker == 0xE1) {
      // Like OpenCV's ExifReader, only the first APP1 segment is considered.
      const uint8_t* seg = data + pos + 2;
      const size_t seg_len = len - 2;
      if (seg_len < 6 || std::memcmp(seg, "Exif\0\0", 6) != 0) return 1;
      return tiff_orientation(seg + 6, seg_len - 6);
    }
    pos += len;
  }
  return 1;
}

RgbImage apply_exif_orientation(RgbImage&& in, int orientation) {
  if (orientation < 2 || orientation > 8) return std::move(in);
  const int H = in.height, W = in.width, C = in.channels;
  const bool swap = orientation_swaps_axes(orientation);
  RgbImage out(swap ? W : H, swap ? H : W, C);
  // out(r, c) = in(r0 + rr * r + rc * c, c0 + cr * r + cc * c)
  int r0 = 0, rr = 1, rc = 0, c0 = 0, cr = 0, cc = 1;
  switch (orientation) {
    case 2: c0 = W - 1, cc = -1; break;                                    // flip left-right
    case 3: r0 = H - 1, rr = -1, c0 = W - 1, cc = -1; break;               // rotate 180
    case 4: r0 = H - 1, rr = -1; break;                                    // flip up-down
    case 5: r0 = 0, rr = 0, rc = 1, c0 = 0, cr = 1, cc = 0; break;         // transpose
    case 6: r0 = H - 1, rr = 0, rc = -1, c0 = 0, cr = 1, cc = 0; break;    // rotate 90 cw
    case 7: r0 = H - 1, rr = 0, rc = -1, c0 = W - 1, cr = -1, cc = 0; break;  // transverse
    case 8: r0 = 0, rr = 0, rc = 1, c0 = W - 1, cr = -1, cc = 0; break;    // rotate 90 ccw
  }
  for (int r = 0; r < out.height; ++r) {
    uint8_t* dst = out.row(r);
    for (int c = 0; c < out.width; ++c) {
      const int y = r0 + rr * r + rc * c, x = c0 + cr * r + cc * c;
      const uint8_t* src = in.pixels.data() + (size_t(y) * W + x) * C;
      for (int k = 0; k < C; ++k) dst[c * C + k] = src[k];
    }
  }
  return out;
}

}  // namespace rd
