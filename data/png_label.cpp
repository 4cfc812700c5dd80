#include "data/png_label.h"

#include <png.h>

#include <csetjmp>
#include <cstring>

#include "common/error.h"
#include "common/vectorize.h"

namespace rd {
namespace {

struct Source {
  const uint8_t* data;
  size_t size, pos;
};

struct ErrorState {
  char message[256] = {0};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(st->message, sizeof st->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

void on_read(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (src->pos + n > src->size) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

// Rows of 1-byte values, or 2-byte big-endian ones, as int32.
READ_VECTORIZE_LOOPS void widen_values(const uint8_t* rows, int bytes_per_value, size_t n,
                                       std::vector<int32_t>& values) {
  values.resize(n);
  if (bytes_per_value == 1)
    for (size_t i = 0; i < n; ++i) values[i] = rows[i];
  else
    for (size_t i = 0; i < n; ++i) values[i] = rows[2 * i] << 8 | rows[2 * i + 1];
}

}  // namespace

LabelMap decode_label_png(const std::string& bytes, const std::string& what, bool bytes_verified) {
  READ_CHECK(bytes.size() >= 8 &&
                 png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0,
             what, ": not a PNG file");
  ErrorState err;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
  READ_CHECK(png, what, ": libpng initialisation failed");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    fail(what, ": libpng initialisation failed");
  }
  Source src{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0};
  LabelMap out;
  std::vector<uint8_t> rows;
  std::vector<png_bytep> ptrs;
  std::string unsupported;
  // Nothing with a non-trivial destructor may be created between setjmp and
  // a longjmp; every object above outlives it.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail(what, ": corrupt PNG (", err.message, ")");
  }
  png_set_read_fn(png, &src, on_read);
  if (bytes_verified) {  // the caller checked the bytes: skip PNG's CRC-32s and zlib's Adler-32
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
  }
  png_read_info(png, info);
  const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
  int bytes_per_value = 1;
  if (color == PNG_COLOR_TYPE_PALETTE) {
    if (depth < 8) png_set_packing(png);  // one index per byte, values unchanged
  } else if (color == PNG_COLOR_TYPE_GRAY && depth == 8) {
  } else if (color == PNG_COLOR_TYPE_GRAY && depth == 16) {
    bytes_per_value = 2;  // big-endian as stored
  } else {
    unsupported = "colour type " + std::to_string(color) + ", bit depth " + std::to_string(depth);
  }
  if (unsupported.empty()) {
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes != static_cast<size_t>(w) * bytes_per_value) {
      unsupported = "unexpected row layout";
    } else {
      rows.resize(rowbytes * h);
      ptrs.resize(h);
      for (png_uint_32 y = 0; y < h; ++y) ptrs[y] = rows.data() + y * rowbytes;
      png_read_image(png, ptrs.data());
      png_read_end(png, nullptr);
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  READ_CHECK(unsupported.empty(), what, ": unsupported label PNG (", unsupported,
             "): expected palette or 8/16-bit grayscale class ids");
  out.height = static_cast<int>(h), out.width = static_cast<int>(w);
  widen_values(rows.data(), bytes_per_value, static_cast<size_t>(w) * h, out.values);
  return out;
}

}  // namespace rd
