// Label-map PNGs as the loader reads them: 8- and 16-bit grayscale values,
// the same with the checksums skipped (bytes_verified, for packed blobs whose
// own checksum was checked), a corrupted chunk caught when they are not
// skipped, and the class remap with its error naming the pixel.
#include <gtest/gtest.h>
#include <png.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "data/png_label.h"
#include "data/raw_sem_seg.h"
#include "tests/harness/errors.h"

namespace {
using rd::testing::error_of;

std::string encode_gray_png(const std::vector<uint8_t>& pixels, int h, int w, bool sixteen_bit) {
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  img.width = w, img.height = h;
  img.format = sixteen_bit ? PNG_FORMAT_LINEAR_Y : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&img, nullptr, &size, 0, pixels.data(), 0, nullptr));
  std::string out(size, '\0');
  EXPECT_TRUE(png_image_write_to_memory(&img, out.data(), &size, 0, pixels.data(), 0, nullptr));
  out.resize(size);
  return out;
}

std::vector<uint8_t> label_pattern(int h, int w) {
  std::vector<uint8_t> v(size_t(h) * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 7 + i / w) % 5);
  return v;
}

TEST(LabelPng, EightBitValuesWithAndWithoutChecksums) {
  const int h = 37, w = 53;
  const std::vector<uint8_t> want = label_pattern(h, w);
  const std::string png = encode_gray_png(want, h, w, false);
  for (bool verified : {false, true}) {
    const rd::LabelMap m = rd::decode_label_png(png, "labels.png", verified);
    ASSERT_EQ(m.height, h);
    ASSERT_EQ(m.width, w);
    EXPECT_EQ(m.values, std::vector<int32_t>(want.begin(), want.end()));
  }
}

TEST(LabelPng, SixteenBitValues) {
  const int h = 9, w = 11;
  std::vector<uint16_t> want(size_t(h) * w);
  for (size_t i = 0; i < want.size(); ++i) want[i] = uint16_t(i * 613);
  std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(want.data()),
                             reinterpret_cast<const uint8_t*>(want.data() + want.size()));
  // PNG_FORMAT_LINEAR_Y takes native-endian 16-bit values.
  const rd::LabelMap m = rd::decode_label_png(encode_gray_png(bytes, h, w, true), "labels16.png", true);
  EXPECT_EQ(m.values, std::vector<int32_t>(want.begin(), want.end()));
}

TEST(LabelPng, CorruptChunkIsCaughtUnlessVerified) {
  const int h = 16, w = 16;
  std::string png = encode_gray_png(label_pattern(h, w), h, w, false);
  const size_t crc_of_ihdr = 8 + 8 + 13;  // signature, IHDR length + type, 13 data bytes
  png[crc_of_ihdr] = char(png[crc_of_ihdr] ^ 0x5a);
  const std::string e = error_of([&] { rd::decode_label_png(png, "broken.png"); });
  EXPECT_NE(e.find("broken.png: corrupt PNG"), std::string::npos) << e;
  EXPECT_EQ(rd::decode_label_png(png, "broken.png", /*bytes_verified=*/true).values.size(), size_t(h * w));
}

TEST(LabelRemap, Ade20kRuleAndMissingClass) {
  rd::LabelMap raw;
  raw.height = 2, raw.width = 3;
  raw.values = {0, 1, 2, 3, 255, 1};
  rd::LabelRemap ade{"ade20k", {"wall", "building", "sky"}, {}};
  // 0 -> 255 (ignore), v -> v - 1, 255 -> 254 -> 255.
  EXPECT_EQ(rd::remap_labels(raw, ade, "a.png"), (std::vector<uint8_t>{255, 0, 1, 2, 255, 0}));
  rd::LabelRemap ignored{"identity", {"a", "b", "c", "d"}, {2}};
  raw.values = {0, 1, 2, 3, 255, 1};
  EXPECT_EQ(rd::remap_labels(raw, ignored, "b.png"), (std::vector<uint8_t>{0, 1, 255, 3, 255, 1}));
  raw.values = {0, 1, 2, 7, 1, 1};  // 7: no class among 4
  const std::string e = error_of([&] { rd::remap_labels(raw, ignored, "c.png"); });
  EXPECT_NE(e.find("c.png: label value 7 at pixel (1, 0)"), std::string::npos) << e;
}

}  // namespace
