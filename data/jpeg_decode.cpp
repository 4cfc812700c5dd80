#include "data/jpeg_decode.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"
#include "data/exif_orientation.h"

namespace rd {

namespace {

// One decompressor per thread (loader workers decode concurrently).
tjhandle thread_decompressor() {
  struct Handle {
    tjhandle h = tjInitDecompress();
    ~Handle() {
      if (h) tjDestroy(h);
    }
  };
  thread_local Handle handle;
  READ_CHECK(handle.h != nullptr, "TurboJPEG: cannot create a decompressor: ",
             tjGetErrorStr2(nullptr));
  return handle.h;
}

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, written to RGB order.
void cmyk_to_rgb(const uint8_t* cmyk, size_t pixels, uint8_t* rgb) {
  for (size_t i = 0; i < pixels; ++i, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    rgb[0] = uint8_t(k - ((255 - cmyk[0]) * k >> 8));
    rgb[1] = uint8_t(k - ((255 - cmyk[1]) * k >> 8));
    rgb[2] = uint8_t(k - ((255 - cmyk[2]) * k >> 8));
  }
}

// Largest DCT scale-down (8, 4, 2) keeping the displayed image at least the
// requested size; 1 for none.
int choose_scale_denom(int h, int w, const DecodeOptions& o) {
  if (o.min_long_side <= 0 && o.min_short_side <= 0) return 1;
  for (int d : {8, 4, 2}) {
    const tjscalingfactor sf{1, d};
    const int sh = TJSCALED(h, sf), sw = TJSCALED(w, sf);
    if (std::max(sh, sw) >= o.min_long_side && std::min(sh, sw) >= o.min_short_side) return d;
  }
  return 1;
}

}  // namespace

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::kJpeg;
  static const uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPngMagic, 8) == 0) return ImageFormat::kPng;
  return ImageFormat::kUnknown;
}

DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& options) {
  tjhandle tj = thread_decompressor();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &width, &height, &subsamp,
                          &colorspace) != 0)
    fail(name, ": not a readable JPEG (", tjGetErrorStr2(tj), ")");
  READ_CHECK(width > 0 && height > 0, name, ": JPEG with an empty image (", width, "x", height,
             ")");

  const int orientation = options.apply_exif_orientation ? jpeg_exif_orientation(data, size) : 1;
  const int denom = choose_scale_denom(height, width, options);
  const tjscalingfactor sf{1, denom};
  const int sw = TJSCALED(width, sf), sh = TJSCALED(height, sf);

  // ISLOW IDCT and smooth upsampling (the TurboJPEG defaults for
  // decompression, made explicit): what OpenCV's libjpeg decode uses.
  // STOPONWARNING: libjpeg reports damaged data (truncation, corrupt entropy
  // data) as warnings; stopping at the first one gives its message.
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  RgbImage image(sh, sw, 3);
  std::vector<uint8_t> cmyk_buf;
  uint8_t* dst = image.pixels.data();
  if (cmyk) {
    cmyk_buf.resize(size_t(sh) * sw * 4);
    dst = cmyk_buf.data();
  }
  auto decompress = [&](int extra_flags) {
    return tjDecompress2(tj, data, static_cast<unsigned long>(size), dst, sw, 0, sh,
                         cmyk ? TJPF_CMYK : TJPF_RGB, flags | extra_flags);
  };
  if (decompress(TJFLAG_STOPONWARNING) != 0) {
    std::string msg = tjGetErrorStr2(tj);
    // The one tolerated warning: garbage just before the end-of-image marker,
    // after all image data (common in scraped datasets; OpenCV decodes it).
    // It was the first warning, so decoding again without stopping gives the
    // complete image.
    const bool eoi_garbage = tjGetErrorCode(tj) == TJERR_WARNING &&
                             msg.find("extraneous bytes before marker 0xd9") != std::string::npos;
    if (!eoi_garbage || (decompress(0) != 0 && tjGetErrorStr2(tj) != msg))
      fail(name, ": corrupt or truncated JPEG (", msg, ")");
  }
  if (cmyk) cmyk_to_rgb(cmyk_buf.data(), size_t(sh) * sw, image.pixels.data());

  DecodedImage out;
  const bool swap = orientation_swaps_axes(orientation);
  out.orig_height = swap ? width : height;
  out.orig_width = swap ? height : width;
  out.scale_denom = denom;
  out.image = apply_exif_orientation(std::move(image), orientation);
  return out;
}

DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& options) {
  switch (sniff_image_format(data, size)) {
    case ImageFormat::kJpeg: return decode_jpeg(data, size, name, options);
    case ImageFormat::kPng: return decode_png(data, size, name);
    default: break;
  }
  if (size == 0) fail(name, ": empty image file");
  fail(name, ": not a JPEG or PNG image (", size, " bytes, first byte 0x", std::hex,
       int(data[0]), ")");
}

DecodedImage read_image_file(const std::string& path, const DecodeOptions& options) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, ": cannot open image file (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    if (size > 0) bytes.reserve(size_t(size));
    std::rewind(f.get());
  }
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) bytes.insert(bytes.end(), buf, buf + n);
  if (std::ferror(f.get())) fail(path, ": read error");
  return decode_image(bytes.data(), bytes.size(), path, options);
}

}  // namespace rd
