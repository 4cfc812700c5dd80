// Polygon drawing on a single-channel uint8 image, reproducing OpenCV's
// cv::polylines(img, [pts], isClosed=true, value, thickness=1, LINE_8) and
// cv::fillPoly(img, [pts], value) (LINE_8, shift 0) pixel for pixel:
// 8-connected Bresenham outlines (LineIterator, left-to-right, clipped with
// clipLine) and the scanline edge-table fill (CollectPolyEdges +
// FillEdgeCollection as in OpenCV 4.6: left edges rounded up, right edges
// down, edges from the unclipped vertices, the outline
// drawn as part of the fill). ReasonSeg's LabelMe masks are drawn this way by
// the reference (READ get_mask_from_json).
#pragma once
#include <cstdint>
#include <vector>

namespace rd {

struct IPoint {
  int64_t x = 0, y = 0;
};

// `img` is row-major [h, w].
void cv_polylines_closed(uint8_t* img, int h, int w, const std::vector<IPoint>& pts, uint8_t value);
void cv_fill_poly(uint8_t* img, int h, int w, const std::vector<IPoint>& pts, uint8_t value);

}  // namespace rd
