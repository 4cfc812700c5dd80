// Image decoding: every JPEG of the raw_datasets fixtures decodes exactly as
// the reference's cv2.imread (EXIF orientation, grayscale, progressive), EXIF
// orientations 1..8, corrupt/truncated files are clear errors, PNG transforms,
// DCT-scaled decoding sizes.
#include <gtest/gtest.h>
#include <png.h>
#include <turbojpeg.h>

#include <cmath>
#include <fstream>
#include <random>

#include "common/error.h"
#include "data/exif_orientation.h"
#include "data/jpeg_decode.h"
#include "data/pil_resample.h"
#include "tests/harness/fixtures.h"

namespace rd {
namespace {

using testing::FixtureCase;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

torch::Tensor decoded_tensor(const std::vector<uint8_t>& bytes, const std::string& name,
                             const DecodeOptions& o = {}) {
  return to_tensor(decode_image(bytes.data(), bytes.size(), name, o).image);
}

// A test image with structure in both axes and all channels.
RgbImage pattern(int h, int w) {
  RgbImage im(h, w, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = im.row(y) + x * 3;
      p[0] = uint8_t(x * 255 / std::max(1, w - 1));
      p[1] = uint8_t(y * 255 / std::max(1, h - 1));
      p[2] = uint8_t(((x / 8 + y / 8) % 2) * 200 + 20);
    }
  return im;
}

std::vector<uint8_t> encode_jpeg(const RgbImage& im, int quality = 90) {
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, im.pixels.data(), im.width, 0, im.height, TJPF_RGB, &buf, &size,
                             TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  EXPECT_EQ(rc, 0) << tjGetErrorStr2(tj);
  std::vector<uint8_t> out(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

// An APP1 Exif segment holding only IFD0 with the Orientation tag.
std::vector<uint8_t> exif_segment(int orientation, bool little_endian) {
  auto u16 = [&](std::vector<uint8_t>& v, int x) {
    if (little_endian) v.push_back(uint8_t(x)), v.push_back(uint8_t(x >> 8));
    else v.push_back(uint8_t(x >> 8)), v.push_back(uint8_t(x));
  };
  auto u32 = [&](std::vector<uint8_t>& v, uint32_t x) {
    if (little_endian) { u16(v, int(x & 0xFFFF)); u16(v, int(x >> 16)); }
    else { u16(v, int(x >> 16)); u16(v, int(x & 0xFFFF)); }
  };
  std::vector<uint8_t> tiff;
  tiff.push_back(little_endian ? 'I' : 'M');
  tiff.push_back(little_endian ? 'I' : 'M');
  u16(tiff, 42);
  u32(tiff, 8);
  u16(tiff, 1);                     // one entry
  u16(tiff, 0x0112), u16(tiff, 3);  // Orientation, SHORT
  u32(tiff, 1);
  u16(tiff, orientation), u16(tiff, 0);
  u32(tiff, 0);  // no next IFD
  std::vector<uint8_t> seg = {0xFF, 0xE1};
  const int len = 2 + 6 + int(tiff.size());
  seg.push_back(uint8_t(len >> 8));
  seg.push_back(uint8_t(len));
  for (char c : std::string("Exif\0\0", 6)) seg.push_back(uint8_t(c));
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  return seg;
}

std::vector<uint8_t> with_exif(const std::vector<uint8_t>& jpeg, int orientation, bool le) {
  std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);  // SOI
  auto seg = exif_segment(orientation, le);
  out.insert(out.end(), seg.begin(), seg.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

TEST(ImageDecode, RawDatasetImagesMatchReference) {
  for (const FixtureCase& c : testing::cases_of_kind("raw_datasets")) {
    SCOPED_TRACE(c.name());
    const std::string root = c.file("dataset_root");
    int n = 0;
    for (const auto& [key, want] : c.expected()) {
      if (key.rfind("image/", 0) != 0) continue;
      const std::string path = root + "/" + key.substr(6);
      torch::Tensor got = to_tensor(read_image_file(path).image);
      EXPECT_TRUE(testing::tensors_close(key, got, want, testing::Tolerance{0, 0, true}));
      ++n;
    }
    EXPECT_GT(n, 0) << "no image tensors in the case";
  }
}

TEST(ImageDecode, ExifOrientations) {
  const std::vector<uint8_t> jpeg = encode_jpeg(pattern(24, 40));
  torch::Tensor base = decoded_tensor(jpeg, "base");  // [H, W, 3]
  const std::vector<torch::Tensor> want = {
      base,                                    // 1
      base.flip({1}),                          // 2 mirror left-right
      base.flip({0, 1}),                       // 3 rotate 180
      base.flip({0}),                          // 4 mirror up-down
      base.transpose(0, 1),                    // 5 transpose
      base.transpose(0, 1).flip({1}),          // 6 rotate 90 cw
      base.transpose(0, 1).flip({0, 1}),       // 7 transverse
      base.transpose(0, 1).flip({0}),          // 8 rotate 90 ccw
  };
  for (int o = 1; o <= 8; ++o)
    for (bool le : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "orientation " << o << (le ? " II" : " MM"));
      const auto bytes = with_exif(jpeg, o, le);
      EXPECT_EQ(jpeg_exif_orientation(bytes.data(), bytes.size()), o);
      DecodedImage d = decode_image(bytes.data(), bytes.size(), "exif");
      EXPECT_EQ(d.orig_height, want[o - 1].size(0));
      EXPECT_EQ(d.orig_width, want[o - 1].size(1));
      EXPECT_TRUE(torch::equal(to_tensor(std::move(d.image)), want[o - 1]));
      DecodeOptions ignore;
      ignore.apply_exif_orientation = false;
      EXPECT_TRUE(torch::equal(decoded_tensor(bytes, "exif", ignore), base));
    }
  // Out-of-range values are ignored, as OpenCV does.
  const auto bad = with_exif(jpeg, 9, true);
  EXPECT_EQ(jpeg_exif_orientation(bad.data(), bad.size()), 1);
  EXPECT_TRUE(torch::equal(decoded_tensor(bad, "exif9"), base));
}

TEST(ImageDecode, CorruptAndTruncatedAreErrorsNamingTheImage) {
  const std::vector<uint8_t> jpeg = encode_jpeg(pattern(64, 64));
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& what) {
    try {
      decode_image(bytes.data(), bytes.size(), "rec/0042.jpg");
      ADD_FAILURE() << what << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rec/0042.jpg"), std::string::npos) << e.what();
    }
  };
  expect_error(std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() * 6 / 10),
               "truncated JPEG");
  expect_error(std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 100), "JPEG cut in its header");
  std::vector<uint8_t> garbled = jpeg;
  for (size_t i = garbled.size() / 2; i < garbled.size() / 2 + 64; ++i) garbled[i] = 0xFF;
  garbled[garbled.size() / 2 + 64] = 0xD3;  // a stray marker inside the scan
  expect_error(garbled, "corrupt scan data");
  expect_error({'G', 'I', 'F', '8', '9', 'a', 0, 0}, "GIF");
  expect_error({}, "empty");
  EXPECT_THROW(read_image_file("/nonexistent/dir/img.jpg"), Error);

  // Garbage between the scan and EOI: libjpeg's "extraneous bytes" warning,
  // image data intact (OpenCV accepts it too).
  std::vector<uint8_t> extra(jpeg.begin(), jpeg.end() - 2);
  extra.insert(extra.end(), {0x00, 0x11, 0x22, 0xFF, 0xD9});
  EXPECT_TRUE(torch::equal(decoded_tensor(extra, "extra"), decoded_tensor(jpeg, "clean")));
}

TEST(ImageDecode, GrayJpegGivesThreeEqualChannels) {
  RgbImage im = pattern(16, 24);
  tjhandle tj = tjInitCompress();
  std::vector<uint8_t> gray(16 * 24);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = im.pixels[i * 3];
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  ASSERT_EQ(tjCompress2(tj, gray.data(), 24, 0, 16, TJPF_GRAY, &buf, &size, TJSAMP_GRAY, 95, 0), 0);
  std::vector<uint8_t> jpeg(buf, buf + size);
  tjFree(buf);
  tjDestroy(tj);
  torch::Tensor t = decoded_tensor(jpeg, "gray");
  EXPECT_TRUE(torch::equal(t.select(2, 0), t.select(2, 1)));
  EXPECT_TRUE(torch::equal(t.select(2, 0), t.select(2, 2)));
  EXPECT_LE((t.select(2, 0).to(torch::kInt) - torch::from_blob(gray.data(), {16, 24}, torch::kUInt8).to(torch::kInt)).abs().max().item<int>(), 4);
}

// Minimal PNG writer for the tests (libpng).
std::vector<uint8_t> encode_png(int w, int h, int color_type, int bit_depth,
                                const std::vector<uint8_t>& rows_data,
                                const std::vector<png_color>& palette = {}) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep d, png_size_t n) {
        auto* v = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        v->insert(v->end(), d, d + n);
      },
      nullptr);
  png_set_IHDR(png, info, w, h, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), int(palette.size()));
  png_write_info(png, info);
  const size_t stride = rows_data.size() / h;
  for (int y = 0; y < h; ++y) png_write_row(png, const_cast<uint8_t*>(rows_data.data() + y * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

TEST(ImageDecode, PngLikeOpenCV) {
  const int w = 5, h = 3;
  RgbImage im = pattern(h, w);
  // RGB8 round trip.
  auto rgb = encode_png(w, h, PNG_COLOR_TYPE_RGB, 8, {im.pixels.begin(), im.pixels.end()});
  DecodedImage d = decode_image(rgb.data(), rgb.size(), "rgb.png");
  EXPECT_EQ(d.image.pixels, im.pixels);
  // RGBA: alpha dropped, not composited.
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < im.pixels.size(); i += 3)
    rgba.insert(rgba.end(), {im.pixels[i], im.pixels[i + 1], im.pixels[i + 2], uint8_t(i)});
  auto png_rgba = encode_png(w, h, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba);
  EXPECT_EQ(decode_image(png_rgba.data(), png_rgba.size(), "rgba.png").image.pixels, im.pixels);
  // 16-bit: the high byte.
  std::vector<uint8_t> rgb16;
  for (uint8_t v : im.pixels) rgb16.insert(rgb16.end(), {v, uint8_t(255 - v)});  // big-endian
  auto png16 = encode_png(w, h, PNG_COLOR_TYPE_RGB, 16, rgb16);
  EXPECT_EQ(decode_image(png16.data(), png16.size(), "rgb16.png").image.pixels, im.pixels);
  // Gray: replicated.
  std::vector<uint8_t> gray(w * h);
  for (int i = 0; i < w * h; ++i) gray[i] = uint8_t(i * 17);
  auto pg = encode_png(w, h, PNG_COLOR_TYPE_GRAY, 8, gray);
  RgbImage g = decode_image(pg.data(), pg.size(), "gray.png").image;
  for (int i = 0; i < w * h; ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g.pixels[i * 3 + c], gray[i]);
  // Palette: expanded to the palette colours.
  std::vector<png_color> pal = {{10, 20, 30}, {200, 100, 0}, {1, 2, 3}};
  std::vector<uint8_t> idx(w * h);
  for (int i = 0; i < w * h; ++i) idx[i] = uint8_t(i % 3);
  auto pp = encode_png(w, h, PNG_COLOR_TYPE_PALETTE, 8, idx, pal);
  RgbImage p = decode_image(pp.data(), pp.size(), "pal.png").image;
  for (int i = 0; i < w * h; ++i) {
    EXPECT_EQ(p.pixels[i * 3 + 0], pal[i % 3].red);
    EXPECT_EQ(p.pixels[i * 3 + 1], pal[i % 3].green);
    EXPECT_EQ(p.pixels[i * 3 + 2], pal[i % 3].blue);
  }
  // Truncated: an error naming the file.
  std::vector<uint8_t> cut(rgb.begin(), rgb.begin() + rgb.size() - 20);
  try {
    decode_image(cut.data(), cut.size(), "labels/cut.png");
    ADD_FAILURE() << "truncated PNG decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels/cut.png"), std::string::npos) << e.what();
  }
}

TEST(ImageDecode, DctScalingKeepsRequestedSizeAndOriginalSize) {
  // Smooth content (fine detail would legitimately differ between the DCT's
  // block averaging and PIL's triangle filter).
  RgbImage im = pattern(600, 800);
  for (int y = 0; y < 600; ++y)
    for (int x = 0; x < 800; ++x)
      im.row(y)[x * 3 + 2] = uint8_t(128 + 100 * std::sin(x / 40.0) * std::cos(y / 30.0));
  const auto jpeg = encode_jpeg(im);
  DecodeOptions o;
  o.min_long_side = 256;
  o.min_short_side = 100;
  DecodedImage d = decode_image(jpeg.data(), jpeg.size(), "big", o);
  EXPECT_EQ(d.scale_denom, 2);  // 1/4 would give 200x150: long side < 256
  EXPECT_EQ(d.image.height, 300);
  EXPECT_EQ(d.image.width, 400);
  EXPECT_EQ(d.orig_height, 600);
  EXPECT_EQ(d.orig_width, 800);
  o.min_long_side = 100;
  o.min_short_side = 75;
  d = decode_image(jpeg.data(), jpeg.size(), "big", o);
  EXPECT_EQ(d.scale_denom, 8);
  EXPECT_EQ(d.image.height, 75);
  EXPECT_EQ(d.image.width, 100);
  // Close to the full decode downscaled with PIL's antialiasing filter.
  RgbImage full = decode_image(jpeg.data(), jpeg.size(), "big").image;
  RgbImage ref = pil_resize(full, 75, 100, PilFilter::kBilinear);
  torch::Tensor a = to_tensor(std::move(d.image)).to(torch::kFloat);
  torch::Tensor b = to_tensor(std::move(ref)).to(torch::kFloat);
  EXPECT_LT((a - b).abs().mean().item<float>(), 3.0f);
  // Without a request: full resolution.
  EXPECT_EQ(decode_image(jpeg.data(), jpeg.size(), "big").scale_denom, 1);
}

}  // namespace
}  // namespace rd
