// EXIF orientation (tag 0x0112) of JPEG files, applied as OpenCV's imread
// does by default (IMREAD_COLOR without IMREAD_IGNORE_ORIENTATION).
//
// Decision (spec/data.md 8.15): apply it. READ's reference decodes with
// cv2.imread, which rotates/flips by the EXIF tag, and the annotations
// (ReasonSeg LabelMe polygons, COCO sizes) are in display orientation, so the
// masks only line up with the oriented image.
#pragma once
#include <cstddef>
#include <cstdint>

#include "data/rgb_image.h"

namespace rd {

// The orientation (1..8) in the first APP1 "Exif" segment of a JPEG stream;
// 1 when there is none or it is unreadable or out of range (OpenCV then
// leaves the image as it is).
int jpeg_exif_orientation(const uint8_t* data, size_t size);

// Orientation 5..8 swap height and width.
inline bool orientation_swaps_axes(int orientation) { return orientation >= 5 && orientation <= 8; }

// The displayed image for a stored image and its orientation, exactly as
// OpenCV's ExifTransform: 2 flip left-right, 3 rotate 180, 4 flip up-down,
// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
// counter-clockwise. Orientation 1 (or invalid) returns the image unchanged.
RgbImage apply_exif_orientation(RgbImage&& image, int orientation);

}  // namespace rd
