// decode_png (declared in jpeg_decode.h): libpng's classic API with the
// transforms OpenCV's PngDecoder applies for IMREAD_COLOR, so the RGB result
// equals cv2.imread + BGR2RGB: 16-bit samples keep their high byte
// (png_set_strip_16), alpha is dropped (png_set_strip_alpha, not composited),
// palettes are expanded, gray is replicated to 3 channels, no gamma handling.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "data/jpeg_decode.h"

namespace rd {

namespace {

struct PngSource {
  const uint8_t* data;
  size_t size, pos;
  char error[256];
};

void read_from_memory(png_structp png, png_bytep out, png_size_t len) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (len > src->size - src->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(out, src->data + src->pos, len);
  src->pos += len;
}

void on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->error, sizeof src->error, "%s", msg);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

// The two libpng phases live in functions with only trivially destructible
// locals: libpng reports errors by longjmp to the setjmp here.
bool read_header(png_structp png, png_infop info, png_uint_32* w, png_uint_32* h, int* channels,
                 size_t* rowbytes) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  int bit_depth = 0, color_type = 0;
  png_get_IHDR(png, info, w, h, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  if (bit_depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0) {
    if (bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *channels = png_get_channels(png, info);
  *rowbytes = png_get_rowbytes(png, info);
  return true;
}

bool read_pixels(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

}  // namespace

DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name) {
  PngSource src{data, size, 0, {0}};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
  READ_CHECK(png != nullptr, name, ": libpng cannot create a reader");
  png_infop info = png_create_info_struct(png);
  struct Cleanup {
    png_structp* png;
    png_infop* info;
    ~Cleanup() { png_destroy_read_struct(png, info, nullptr); }
  } cleanup{&png, &info};
  READ_CHECK(info != nullptr, name, ": libpng cannot create an info struct");
  png_set_read_fn(png, &src, read_from_memory);

  png_uint_32 w = 0, h = 0;
  int channels = 0;
  size_t rowbytes = 0;
  if (!read_header(png, info, &w, &h, &channels, &rowbytes))
    fail(name, ": corrupt PNG (", src.error, ")");
  READ_CHECK(w > 0 && h > 0 && channels == 3 && rowbytes == size_t(w) * 3, name,
             ": unsupported PNG layout after conversion to RGB (", w, "x", h, ", ", channels,
             " channels)");
  DecodedImage out;
  out.image = RgbImage(int(h), int(w), 3);
  std::vector<png_bytep> rows(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = out.image.row(int(y));
  if (!read_pixels(png, info, rows.data())) fail(name, ": corrupt or truncated PNG (", src.error, ")");
  out.orig_height = int(h);
  out.orig_width = int(w);
  return out;
}

}  // namespace rd
