// ReasonSeg masks from LabelMe shapes, as READ's get_mask_from_json draws
// them: shapes labelled "flag" (case-insensitive, exact) are skipped; each
// kept shape's area is the pixel count of its own closed polyline
// (thickness 1) + fillPoly with value 1; shapes are painted in descending
// area order (polyline + fill) with 255 when the label contains "ignore"
// (case-insensitive), else 1. Points are truncated toward zero to int32.
// Ties: numpy's argsort is stable for <= 16 items and is reversed, so among
// equal areas the later-listed shape is painted first; we use that order for
// any count (the reference's order for > 16 shapes is numpy-internal).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rd {

struct LabelMeShape {
  std::string label;
  std::vector<double> points;  // flat x1,y1,x2,y2,...
};

struct ReasonMask {
  std::vector<uint8_t> mask;         // row-major [h, w] in {0, 1, 255}
  std::vector<int64_t> kept;         // indices of the non-flag shapes
  std::vector<int64_t> areas;        // per kept shape
  std::vector<int64_t> paint_order;  // shape indices in paint order
};

bool is_flag_label(const std::string& label);
bool is_ignore_label(const std::string& label);

// Throws rd::Error when a point does not fit in int32 or a shape has no point.
ReasonMask reason_seg_mask(const std::vector<LabelMeShape>& shapes, int h, int w);

}  // namespace rd
