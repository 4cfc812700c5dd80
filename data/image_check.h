// Validating stored image bytes without decoding pixels (the loader decodes):
// JPEG (turbojpeg header + our marker walk: size, components, progressive,
// EXIF orientation, and an EOI marker after the scan data, so a truncated
// file is caught) and PNG (signature + IHDR + IEND chunk). The reference
// decodes with cv2.imread, which applies the EXIF orientation (JPEG only in
// OpenCV 4.6); `display_height/width` is the size after that orientation.
#pragma once
#include <cstdint>
#include <string>

#include "data/image_format.h"

namespace rd {

struct ImageInfo {
  ImageFormat format = ImageFormat::kJpeg;
  int stored_width = 0, stored_height = 0;  // as encoded
  int components = 0;                       // JPEG: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK
  bool progressive = false;
  int exif_orientation = 1;                 // 1..8 (1 when absent or invalid)
  int display_height() const { return exif_orientation >= 5 ? stored_width : stored_height; }
  int display_width() const { return exif_orientation >= 5 ? stored_height : stored_width; }
};

// Throws rd::Error "<what>: <reason>" for an unreadable, truncated or
// unsupported image.
ImageInfo check_image(const std::string& bytes, const std::string& what);

}  // namespace rd
