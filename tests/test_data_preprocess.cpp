// SAM- and CLIP-branch preprocessing against every sam_preprocess and
// clip_preprocess fixture case, plus the resampler's invariants (scalar and
// AVX2 kernels agree, a region equals the crop of the full resize).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/error.h"
#include "data/clip_preprocess.h"
#include "data/jpeg_decode.h"
#include "data/pil_resample.h"
#include "data/sam_preprocess.h"
#include "tests/harness/fixtures.h"

namespace rd {
namespace {

using testing::FixtureCase;

torch::Tensor hw_tensor(int h, int w) { return torch::tensor({int64_t(h), int64_t(w)}); }

torch::Tensor hwc_tensor(RgbImage image) { return to_tensor(std::move(image)); }

std::array<float, 3> floats3(const nlohmann::json& j) {
  return {j.at(0).get<float>(), j.at(1).get<float>(), j.at(2).get<float>()};
}

// Every expected tensor of a case must be one the test computed.
void expect_all_checked(const FixtureCase& c, const std::set<std::string>& checked) {
  for (const auto& [name, t] : c.expected())
    EXPECT_TRUE(checked.count(name)) << c.name() << ": expected tensor '" << name
                                     << "' is not checked by this test";
}

// The case's image: the decoded JPEG when the case has one (checked against
// decoded_rgb, the reference's cv2.imread), else the stored pixels.
RgbImage case_image(const FixtureCase& c, std::set<std::string>& checked) {
  RgbImage image = rgb_image_from_tensor(c.input("image"));
  if (c.has_file("jpeg")) {
    DecodedImage d = read_image_file(c.file("jpeg"));
    EXPECT_EQ(d.orig_height, d.image.height);
    EXPECT_EQ(d.scale_denom, 1);
    RgbImage decoded = d.image;
    EXPECT_MATCHES(c, "decoded_rgb", to_tensor(std::move(decoded)));
    EXPECT_TRUE(torch::equal(to_tensor(RgbImage(d.image)), c.input("image")))
        << c.name() << ": stored image differs from the decoded JPEG";
    checked.insert("decoded_rgb");
    image = std::move(d.image);
  }
  return image;
}

TEST(SamPreprocess, EveryFixtureCase) {
  for (const FixtureCase& c : testing::cases_of_kind("sam_preprocess")) {
    SCOPED_TRACE(c.name());
    std::set<std::string> checked;
    const auto& cfg = c.config();
    SamPreprocessConfig config;
    config.target_length = cfg.at("target_length").get<int>();
    config.pixel_mean = floats3(cfg.at("pixel_mean"));
    config.pixel_std = floats3(cfg.at("pixel_std"));
    ASSERT_EQ(cfg.at("pad_to").at(0).get<int>(), config.target_length);
    ASSERT_EQ(cfg.at("pad_to").at(1).get<int>(), config.target_length);

    RgbImage image = case_image(c, checked);
    RgbImage resized = sam_resize(image, config);
    EXPECT_MATCHES(c, "resized", hwc_tensor(resized));
    checked.insert("resized");

    SamInput in = sam_preprocess(image, config);
    const SamMaskShape& s = in.mask_shape;
    EXPECT_MATCHES(c, "input_size", hw_tensor(int(s.sam_h), int(s.sam_w)));
    EXPECT_MATCHES(c, "original_size", hw_tensor(int(s.height), int(s.width)));
    checked.insert({"input_size", "original_size"});
    const int T = config.target_length;
    ASSERT_EQ(in.pixel_values.sizes(), (std::vector<int64_t>{3, T, T}));
    if (cfg.value("pixel_values_stored", "full") == "region") {
      const int rh = cfg.at("region_hw").at(0).get<int>(), rw = cfg.at("region_hw").at(1).get<int>();
      using torch::indexing::Slice;
      EXPECT_MATCHES(c, "pixel_values_region",
                     in.pixel_values.index({Slice(), Slice(0, rh), Slice(0, rw)}));
      torch::Tensor rest = in.pixel_values.clone();
      rest.index_put_({Slice(), Slice(0, rh), Slice(0, rw)}, 0.0f);
      EXPECT_EQ(rest.count_nonzero().item<int64_t>(), 0) << "non-zero padding outside the region";
      checked.insert("pixel_values_region");
    } else {
      EXPECT_MATCHES(c, "pixel_values", in.pixel_values);
      checked.insert("pixel_values");
    }
    expect_all_checked(c, checked);
  }
}

TEST(ClipPreprocess, EveryFixtureCase) {
  for (const FixtureCase& c : testing::cases_of_kind("clip_preprocess")) {
    SCOPED_TRACE(c.name());
    std::set<std::string> checked;
    const auto& cfg = c.config();
    ASSERT_EQ(cfg.at("resample").get<std::string>().rfind("PIL.Image.BICUBIC", 0), 0u);
    ASSERT_TRUE(cfg.at("do_resize").get<bool>() && cfg.at("do_center_crop").get<bool>() &&
                cfg.at("do_rescale").get<bool>() && cfg.at("do_normalize").get<bool>());
    ClipPreprocessConfig config;
    config.shortest_edge = cfg.at("size").at("shortest_edge").get<int>();
    config.crop_height = cfg.at("crop_size").at("height").get<int>();
    config.crop_width = cfg.at("crop_size").at("width").get<int>();
    config.rescale_factor = cfg.at("rescale_factor").get<double>();
    config.image_mean = floats3(cfg.at("image_mean"));
    config.image_std = floats3(cfg.at("image_std"));

    RgbImage image = case_image(c, checked);
    const auto [h, w] = clip_resized_size(image.height, image.width, config.shortest_edge);
    EXPECT_MATCHES(c, "resized_hw", hw_tensor(h, w));
    checked.insert("resized_hw");
    if (c.expected().count("resized")) {
      EXPECT_MATCHES(c, "resized", hwc_tensor(pil_resize(image, h, w, PilFilter::kBicubic)));
      checked.insert("resized");
    }
    const ResizeRegion crop = clip_crop_region(h, w, config);
    if (cfg.contains("crop_top_left")) {
      EXPECT_EQ(crop.top, cfg["crop_top_left"].at(0).get<int>());
      EXPECT_EQ(crop.left, cfg["crop_top_left"].at(1).get<int>());
    }
    RgbImage cropped = clip_resize_crop(image, config);
    EXPECT_MATCHES(c, "cropped", hwc_tensor(cropped));
    checked.insert("cropped");
    EXPECT_MATCHES(c, "pixel_values", clip_preprocess(image, config));
    checked.insert("pixel_values");
    expect_all_checked(c, checked);
  }
}

RgbImage random_image(std::mt19937& rng, int h, int w, int channels) {
  RgbImage im(h, w, channels);
  // Smooth content plus noise, with saturated patches (exercises clipping of
  // bicubic overshoot).
  std::uniform_int_distribution<int> noise(-40, 40);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) {
        int v = (x * 7 + y * 3 + c * 50) % 256 + noise(rng);
        if ((x / 5 + y / 3) % 4 == 0) v = (c % 2) ? 255 : 0;
        im.row(y)[x * channels + c] = uint8_t(std::clamp(v, 0, 255));
      }
  return im;
}

TEST(PilResample, SimdKernelsEqualScalar) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(7);
  const int sizes[][4] = {{1, 1, 5, 3},      {7, 13, 3, 29},   {50, 50, 128, 128},
                          {300, 400, 192, 256}, {40, 1500, 27, 1024}, {333, 29, 1024, 89},
                          {200, 130, 516, 336}, {17, 64, 17, 33},  {64, 17, 33, 17},
                          {5, 2, 9, 7},      {3, 1, 4, 5},     {2, 3, 1, 1}, {480, 640, 768, 1024},
                          {480, 640, 336, 448}};
  for (int channels : {3, 1, 4})
    for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
      for (const auto& s : sizes) {
        SCOPED_TRACE(::testing::Message() << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3]
                                          << " c" << channels << " f" << int(f));
        RgbImage im = random_image(rng, s[0], s[1], channels);
        detail::set_pil_simd_enabled(false);
        RgbImage scalar = pil_resize(im, s[2], s[3], f);
        detail::set_pil_simd_enabled(true);
        RgbImage simd = pil_resize(im, s[2], s[3], f);
        EXPECT_EQ(scalar.pixels, simd.pixels);
      }
}

TEST(PilResample, SimdEqualsScalarOnRandomSizes) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> size(1, 260);
  for (int i = 0; i < 150; ++i) {
    const int h = size(rng), w = size(rng), oh = size(rng), ow = size(rng);
    const PilFilter f = i % 2 ? PilFilter::kBicubic : PilFilter::kBilinear;
    SCOPED_TRACE(::testing::Message() << h << "x" << w << " -> " << oh << "x" << ow << " f" << int(f));
    RgbImage im = random_image(rng, h, w, 3);
    detail::set_pil_simd_enabled(false);
    RgbImage scalar = pil_resize(im, oh, ow, f);
    detail::set_pil_simd_enabled(true);
    RgbImage simd = pil_resize(im, oh, ow, f);
    ASSERT_EQ(scalar.pixels, simd.pixels);
  }
}

// Region `r` of the oh x ow resize with the scalar kernels and with the SIMD
// ones; true when they agree (gtest failure with the sizes otherwise).
bool simd_equals_scalar(const RgbImage& im, int oh, int ow, PilFilter f, const ResizeRegion& r) {
  detail::set_pil_simd_enabled(false);
  RgbImage scalar = pil_resize_region(im, oh, ow, f, r);
  detail::set_pil_simd_enabled(true);
  RgbImage simd = pil_resize_region(im, oh, ow, f, r);
  EXPECT_EQ(scalar.pixels, simd.pixels)
      << im.height << "x" << im.width << "x" << im.channels << " -> " << oh << "x" << ow
      << " f" << int(f) << " region (" << r.top << ", " << r.left << ", " << r.height << "x"
      << r.width << ")";
  return scalar.pixels == simd.pixels;
}

using Kernel = detail::PilHorizontalKernel;

// Widths 1..20 in and out (rows shorter than a window, output rows shorter
// than a 32-byte store), 1-4 channels, 6 rows (a block of 4 rows + a tail).
TEST(PilResample, SimdEqualsScalarOnNarrowRows) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(5);
  std::set<Kernel> seen;
  for (int channels = 1; channels <= 4; ++channels)
    for (int w = 1; w <= 20; ++w) {
      RgbImage im = random_image(rng, 6, w, channels);
      for (int ow = 1; ow <= 20; ++ow)
        for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic}) {
          seen.insert(detail::pil_horizontal_kernel(w, ow, f, channels, 0, ow));
          ASSERT_TRUE(simd_equals_scalar(im, 5, ow, f, ResizeRegion{0, 0, 5, ow}));
        }
    }
  EXPECT_EQ(seen, (std::set<Kernel>{Kernel::kScalar, Kernel::kRgbPairs, Kernel::kBytes,
                                    Kernel::kBytesSharedWindow}));
}

// Ratios from 50x upscales to 5x downscales: the byte kernel with one
// window per vector (mild ratios), one per 128-bit lane (up to ~4x), and
// past its limit the RGB pair kernel (3 channels) or scalar.
TEST(PilResample, SimdEqualsScalarAcrossTheByteKernelLimit) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(9);
  for (int channels = 1; channels <= 4; ++channels)
    for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
      for (int ow : {37, 100}) {
        SCOPED_TRACE(::testing::Message() << "c" << channels << " f" << int(f) << " ow " << ow);
        std::set<Kernel> seen;
        for (int w = 2; w <= 5 * ow + 3; ++w) {
          RgbImage im = random_image(rng, 5, w, channels);
          seen.insert(detail::pil_horizontal_kernel(w, ow, f, channels, 0, ow));
          ASSERT_TRUE(simd_equals_scalar(im, 5, ow, f, ResizeRegion{0, 0, 5, ow}));
        }
        EXPECT_TRUE(seen.count(Kernel::kBytesSharedWindow));
        EXPECT_TRUE(seen.count(Kernel::kBytes));
        if (channels == 3) EXPECT_TRUE(seen.count(Kernel::kRgbPairs));
        if (channels != 4) EXPECT_TRUE(seen.count(Kernel::kScalar));  // narrow or past ~4-6x
      }
}

// Crops of the resize (CLIP's center crop): windows and stores start at the
// region's first column; one input size with many regions in a row (the
// per-thread plan cache keyed by columns and channels).
// The vertical kernel alone (output width = input width, so no horizontal
// pass): heights 1..20 in and out, row lengths around its 32-byte blocks
// (shorter rows are scalar, longer ones end with an overlapping block),
// then downscales to 1..7 rows (up to 250 bicubic taps, odd and even) and
// row regions that start and end anywhere.
TEST(PilResample, VerticalKernelEqualsScalar) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(13);
  const int widths[][2] = {{1, 31}, {3, 11}, {1, 32}, {3, 13}, {4, 9}, {1, 63}, {3, 37}, {4, 24}};
  for (const auto& [channels, w] : widths)
    for (int h = 1; h <= 20; ++h) {
      RgbImage im = random_image(rng, h, w, channels);
      for (int oh = 1; oh <= 20; ++oh)
        for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
          ASSERT_TRUE(simd_equals_scalar(im, oh, w, f, ResizeRegion{0, 0, oh, w}));
    }
  for (int h : {97, 250, 501}) {
    RgbImage im = random_image(rng, h, 45, 3);
    for (int oh = 1; oh <= 7; ++oh)
      for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
        for (int top = 0; top < oh; ++top)
          ASSERT_TRUE(simd_equals_scalar(im, oh, 45, f, ResizeRegion{top, 0, oh - top, 45}));
  }
  RgbImage im = random_image(rng, 19, 67, 3);
  for (int top = 0; top < 40; top += 3)
    for (int height = 1; top + height <= 40; height += 4)
      for (int left = 0; left < 67; left += 11)
        ASSERT_TRUE(simd_equals_scalar(im, 40, 67, PilFilter::kBicubic,
                                       ResizeRegion{top, left, height, 67 - left}));
}

TEST(PilResample, SimdEqualsScalarOnRegions) {
  if (!detail::pil_simd_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> size(1, 300);
  for (int i = 0; i < 120; ++i) {
    const int channels = 1 + i % 4, h = size(rng), w = size(rng), oh = size(rng), ow = size(rng);
    const PilFilter f = i % 3 ? PilFilter::kBicubic : PilFilter::kBilinear;
    RgbImage im = random_image(rng, h, w, channels);
    for (int k = 0; k < 3; ++k) {
      ResizeRegion r;
      r.top = std::uniform_int_distribution<int>(0, oh - 1)(rng);
      r.left = std::uniform_int_distribution<int>(0, ow - 1)(rng);
      r.height = std::uniform_int_distribution<int>(1, oh - r.top)(rng);
      r.width = std::uniform_int_distribution<int>(1, ow - r.left)(rng);
      ASSERT_TRUE(simd_equals_scalar(im, oh, ow, f, r));
    }
  }
  RgbImage im = random_image(rng, 480, 640, 3);  // CLIP: 640x480 -> 448x336, crop 336
  ASSERT_TRUE(simd_equals_scalar(im, 336, 448, PilFilter::kBicubic, ResizeRegion{0, 56, 336, 336}));
}

TEST(PilResample, RegionIsCropOfFullResize) {
  std::mt19937 rng(11);
  RgbImage im = random_image(rng, 97, 131, 3);
  for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic}) {
    for (auto [oh, ow] : {std::pair{60, 80}, std::pair{97, 200}, std::pair{150, 131}}) {
      RgbImage full = pil_resize(im, oh, ow, f);
      const ResizeRegion r{oh / 4, ow / 3, oh / 2, ow / 2};
      RgbImage part = pil_resize_region(im, oh, ow, f, r);
      for (int y = 0; y < r.height; ++y)
        for (int x = 0; x < r.width * 3; ++x)
          ASSERT_EQ(part.row(y)[x], full.row(y + r.top)[r.left * 3 + x]) << "at " << y << "," << x;
    }
  }
}

TEST(PilResample, SameSizeIsCopyAndConstantStaysConstant) {
  std::mt19937 rng(3);
  RgbImage im = random_image(rng, 20, 30, 3);
  EXPECT_EQ(pil_resize(im, 20, 30, PilFilter::kBicubic).pixels, im.pixels);
  RgbImage flat(37, 23, 3);
  std::fill(flat.pixels.begin(), flat.pixels.end(), 200);
  for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
    for (auto [oh, ow] : {std::pair{5, 9}, std::pair{100, 61}}) {
      RgbImage out = pil_resize(flat, oh, ow, f);
      for (uint8_t v : out.pixels) ASSERT_EQ(v, 200);
    }
}

TEST(PilResample, CoefficientsSumToOne) {
  for (auto f : {PilFilter::kBilinear, PilFilter::kBicubic})
    for (auto [in, out] : {std::pair{640, 1024}, std::pair{1500, 1024}, std::pair{7, 3}}) {
      PilCoefficients co = pil_coefficients(in, out, f);
      for (int i = 0; i < out; ++i) {
        int64_t sum = 0;
        for (int t = 0; t < co.count[i]; ++t) sum += co.weights[co.offset[i] + t];
        EXPECT_NEAR(double(sum), double(1 << 22), co.count[i]) << in << "->" << out << " @" << i;
        EXPECT_GE(co.first[i], 0);
        EXPECT_LE(co.first[i] + co.count[i], in);
      }
    }
}

TEST(SamPreprocess, SizesRoundHalfUpAndPadIsZero) {
  EXPECT_EQ(sam_resized_size(512, 101, 256), std::make_pair(256, 51));  // 50.5 -> 51
  EXPECT_EQ(sam_resized_size(480, 640, 1024), std::make_pair(768, 1024));
  std::mt19937 rng(5);
  RgbImage im = random_image(rng, 30, 50, 3);
  SamPreprocessConfig cfg;
  cfg.target_length = 64;
  SamInput in = sam_preprocess(im, cfg);
  EXPECT_EQ(in.mask_shape.sam_h, 38);
  EXPECT_EQ(in.mask_shape.sam_w, 64);
  using torch::indexing::Slice;
  EXPECT_EQ(in.pixel_values.index({Slice(), Slice(38, torch::indexing::None)}).count_nonzero().item<int64_t>(), 0);
}

TEST(ClipPreprocess, SizesTruncateAndCropRejectsTooSmall) {
  EXPECT_EQ(clip_resized_size(333, 500, 224), std::make_pair(224, 336));
  EXPECT_EQ(clip_resized_size(200, 130, 336), std::make_pair(516, 336));
  EXPECT_EQ(clip_resized_size(337, 400, 336), std::make_pair(336, 398));
  ClipPreprocessConfig cfg;
  cfg.shortest_edge = 200;
  EXPECT_THROW(clip_crop_region(200, 300, cfg), Error);
}

}  // namespace
}  // namespace rd
