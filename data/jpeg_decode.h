// Image decoding to RGB uint8, as READ's reference does it with
// cv2.imread(path, IMREAD_COLOR) + cvtColor(BGR2RGB):
//  - JPEG through libjpeg-turbo's TurboJPEG API with the accurate integer IDCT
//    (JDCT_ISLOW) and fancy (smooth) chroma upsampling, OpenCV's settings:
//    bit-exact with the reference decode (the fixtures check it);
//    grayscale JPEGs give 3 equal channels; CMYK/YCCK JPEGs are converted with
//    OpenCV's formula (value = k - (255 - c) * k / 256);
//  - EXIF orientation applied (see exif_orientation.h for the decision);
//  - PNG through libpng with OpenCV's transforms (palette expanded, 16-bit
//    stripped to the high byte, alpha dropped, gray replicated). PNG eXIf
//    chunks are not applied.
//  - The format is sniffed from the magic bytes, not the file name.
//
// Corrupt or truncated images: OpenCV decodes what it can and fills the rest
// (libjpeg's "Premature end of JPEG file" is only a warning). Here they are an
// rd::Error naming the image and libjpeg's message, so a broken file is seen
// rather than trained on. The one libjpeg warning accepted is "extraneous
// bytes before marker 0xd9" as the first warning: garbage between the last
// scan and the end-of-image marker, all image data intact.
//
// DCT scaling (fast path only): with DecodeOptions::min_long_side /
// min_short_side set, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale by the
// IDCT itself, so long as the result still has at least those sizes. The
// pixels then differ from the reference's full decode + resize (by about the
// difference between two good downscalers), so it is only for the training
// loader's opt-in fast path, never where fixtures require exactness.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_format.h"
#include "data/rgb_image.h"

namespace rd {

ImageFormat sniff_image_format(const uint8_t* data, size_t size);

struct DecodeOptions {
  bool apply_exif_orientation = true;
  // DCT scaling: 0 = always full resolution (reference-exact).
  int min_long_side = 0;
  int min_short_side = 0;
};

struct DecodedImage {
  RgbImage image;          // as displayed (EXIF applied), possibly DCT-scaled
  int orig_height = 0;     // full-resolution size as displayed (what the
  int orig_width = 0;      // reference's cv2.imread returns)
  int scale_denom = 1;     // 1, 2, 4 or 8
};

// `name` (file path or record key) is used in error messages.
DecodedImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name,
                         const DecodeOptions& options = {});
DecodedImage decode_png(const uint8_t* data, size_t size, const std::string& name);
// Sniffs the format and decodes; rd::Error for anything else.
DecodedImage decode_image(const uint8_t* data, size_t size, const std::string& name,
                          const DecodeOptions& options = {});
DecodedImage read_image_file(const std::string& path, const DecodeOptions& options = {});

}  // namespace rd
