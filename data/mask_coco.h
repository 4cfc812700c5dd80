// COCO masks exactly as pycocotools computes them (common/maskApi.c):
// polygon -> RLE (rleFrPoly: upsample by 5, round, walk the boundary,
// keep the y-crossings, downsample), the compressed RLE string codec
// (LEB128-like, 6 bits per char, deltas against counts[i-2] from i = 3),
// and RLE decoding (column-major runs, starting with a 0-run).
//
// CocoSegmentation is the `segmentation` field of an annotation in compact
// form: polygon parts, or RLE dicts (kept as compressed strings; an
// uncompressed `counts` list is converted exactly). Its mask is the BINARY
// union of its parts. Decision (spec quirk 8): READ's refer_seg sums the
// per-part masks as uint8 (overlaps give 2); pycocotools' annToMask (PACO,
// PASCAL-Part) takes the union. We always take the union, so every family
// yields {0,1} targets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rd {

struct Rle {
  int64_t h = 0, w = 0;
  std::vector<uint32_t> counts;  // alternating runs, first is 0s, column-major
};

// rleFrPoly: `xy` is a flat x1,y1,x2,y2,... list (a dangling odd value is
// ignored, as the reference's k = len / 2 does).
Rle rle_from_polygon(const std::vector<double>& xy, int64_t h, int64_t w);
// rleFrString. Throws rd::Error on characters outside the codec's range.
Rle rle_from_string(const std::string& s, int64_t h, int64_t w);
std::string rle_to_string(const Rle& rle);
// Number of foreground pixels.
int64_t rle_area(const Rle& rle);
// Throws unless the runs cover exactly h*w pixels (the reference writes
// sum(counts) bytes into an h*w buffer: anything else is undefined there).
void rle_check(const Rle& rle, const std::string& what);
// ORs the RLE's foreground into a row-major uint8 [h, w] buffer (value 1).
void rle_paint(const Rle& rle, uint8_t* hw);
// Row-major uint8 [h, w] with values {0, 1}.
std::vector<uint8_t> rle_decode(const Rle& rle);

struct CocoSegmentation {
  enum Kind : int { kEmpty = 0, kPolygons = 1, kRle = 2 };
  int kind = kEmpty;
  std::vector<std::vector<double>> polygons;  // kPolygons: one flat x,y list per part
  struct RleString {
    int64_t h = 0, w = 0;
    std::string counts;  // compressed COCO string
  };
  std::vector<RleString> rles;  // kRle: one per dict
};

// Parses and validates an annotation's `segmentation` for an image of size
// h x w: [] (empty), a list of polygon parts, a list of RLE dicts, or a bare
// RLE dict; RLE counts compressed (string) or uncompressed (list). Throws
// rd::Error naming `what` on: a polygon part with fewer than 3 points (the
// reference either rasterises it to nothing or crashes in frPyObjects, which
// mistakes a 4-number first part for a box), an odd number of coordinates,
// non-finite numbers, RLE whose size differs from h x w or whose runs do not
// cover h*w pixels, mixed part types.
CocoSegmentation parse_coco_segmentation(const nlohmann::json& seg, int64_t h, int64_t w,
                                         const std::string& what);

// One RLE per part, as pycocotools' frPyObjects / decode would give.
std::vector<Rle> segmentation_parts(const CocoSegmentation& seg, int64_t h, int64_t w);
// Binary union of the parts: row-major uint8 [h, w] in {0, 1}; zeros when empty.
std::vector<uint8_t> segmentation_mask(const CocoSegmentation& seg, int64_t h, int64_t w);

}  // namespace rd
