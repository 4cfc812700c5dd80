// The encoded image formats the data layer reads (one definition for the
// decoder, jpeg_decode.h, and the packer's checks, image_check.h).
#pragma once

namespace rd {

enum class ImageFormat : int { kUnknown = 0, kJpeg = 1, kPng = 2 };

}  // namespace rd
