// Label-map PNG decoding (libpng, from memory) to the values the reference
// gets from np.array(PIL.Image.open(path)): palette PNGs give the palette
// INDICES (Mapillary's colour labels are class ids this way), 8/16-bit
// grayscale give the stored values. Colour, alpha and sub-8-bit grayscale
// label maps are rejected (PIL would hand the reference colours / rescaled
// values, which are not class ids).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rd {

struct LabelMap {
  int height = 0, width = 0;
  std::vector<int32_t> values;  // row-major [height, width]
};

// Throws rd::Error "<what>: <reason>" on a corrupt, truncated or unsupported PNG.
// bytes_verified: the caller has checked the bytes (a packed blob's checksum),
// so PNG's chunk CRCs and zlib's Adler-32 are not computed again.
LabelMap decode_label_png(const std::string& bytes, const std::string& what, bool bytes_verified = false);

}  // namespace rd
