// The training loader over the raw_datasets fixture packed into LMDB:
// batches have the layout of spec/data.md 6 with the images exactly as
// sam_preprocess / clip_preprocess make them (normalised straight into the
// batch), masks matching the [SEG]s; the stream does not depend on the number
// of workers; 1, 2 and 4 ranks together produce the same global sequence;
// resuming from TrainLoader::state() mid-epoch continues it exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "common/error.h"
#include "data/conversation.h"
#include "data/exif_orientation.h"
#include "data/jpeg_decode.h"
#include "data/pack.h"
#include "data/train_loader.h"
#include "tests/data_test_util.h"
#include "tests/harness/fixtures.h"

namespace {
namespace fs = std::filesystem;

// A stand-in tokenizer (data/ does not know model/): one id per
// whitespace-separated word, "</s>" and "[SEG]" their own tokens, "<image>"
// -> -200, a leading BOS. Consistent enough for label masking's checks.
rd::TextEncoder word_encoder() {
  auto words = [](const std::string& s, bool image) {
    std::string t;
    for (size_t i = 0; i < s.size();) {
      bool special = false;
      for (const std::string sp : {"</s>", "[SEG]", "<image>"})
        if (s.compare(i, sp.size(), sp) == 0) {
          t += " " + sp + " ";
          i += sp.size();
          special = true;
          break;
        }
      if (!special) t += s[i++];
    }
    std::vector<int64_t> ids{1};
    std::istringstream in(t);
    for (std::string w; in >> w;)
      ids.push_back(image && w == "<image>" ? -200
                    : w == "[SEG]"        ? 7
                    : w == "</s>"         ? 2
                                          : 10 + int64_t(std::hash<std::string>()(w) % 5000));
    return ids;
  };
  rd::TextEncoder e;
  e.encode = [words](const std::string& s) { return words(s, false); };
  e.encode_with_image = [words](const std::string& s) { return words(s, true); };
  e.pad_id = 0;
  e.seg_id = 7;
  return e;
}

class TrainLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mixture_ = new std::vector<rd::FamilySpec>();
    std::map<std::string, std::vector<std::string>> families;
    base_ = new fs::path(rd::testing::pack_fixture_train_splits("read_train_loader", families));
    ASSERT_FALSE(base_->empty());
    for (const auto& [family, datasets] : families) mixture_->push_back({family, 1, datasets});
  }
  static void TearDownTestSuite() {
    fs::remove_all(*base_);
    delete base_;
    delete mixture_;
  }

  static rd::TrainLoaderConfig config(int64_t micro_batch, int rank, int world, int workers) {
    rd::TrainLoaderConfig c;
    c.packed_dir = (*base_ / "packed").string();
    c.mixture = *mixture_;
    c.templates_path = rd::testing::source_dir() + "/configs/templates/read.yaml";
    c.sam.target_length = 256;  // small inputs keep the test fast; the code path is the same
    c.clip.shortest_edge = c.clip.crop_height = c.clip.crop_width = 112;
    c.text.num_patches = 64;
    c.seed = 17;
    c.micro_batch = micro_batch;
    c.rank = rank;
    c.world = world;
    c.samples_per_epoch = 24;
    c.workers = workers;
    c.prefetch = 3;
    return c;
  }

  static fs::path* base_;
  static std::vector<rd::FamilySpec>* mixture_;
};
fs::path* TrainLoaderTest::base_ = nullptr;
std::vector<rd::FamilySpec>* TrainLoaderTest::mixture_ = nullptr;

// One sample of a batch, trimmed of padding: what must not depend on how
// samples are grouped into batches.
struct SampleView {
  torch::Tensor image, image_clip, masks;
  std::vector<std::vector<int64_t>> ids, labels;
  std::vector<bool> exists;
  rd::SamMaskShape shape;

  bool operator==(const SampleView& o) const {
    return torch::equal(image, o.image) && torch::equal(image_clip, o.image_clip) &&
           masks.sizes() == o.masks.sizes() && torch::equal(masks, o.masks) && ids == o.ids &&
           labels == o.labels && exists == o.exists && shape.sam_h == o.shape.sam_h &&
           shape.sam_w == o.shape.sam_w && shape.height == o.shape.height && shape.width == o.shape.width;
  }
};

std::vector<SampleView> split(const rd::ReadBatch& b) {
  std::vector<SampleView> out;
  const int64_t n = b.images.size(0);
  auto offset = b.offset.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    SampleView v;
    v.image = b.images[i];
    v.image_clip = b.images_clip[i];
    v.masks = b.masks_list[i];
    v.exists = b.exists[i];
    v.shape = b.sam_mask_shape_list[i];
    for (int64_t r = offset[i]; r < offset[i + 1]; ++r) {
      const int64_t len = b.attention_masks[r].sum().item<int64_t>();
      auto row = b.input_ids[r].slice(0, 0, len).contiguous();
      auto lab = b.labels[r].slice(0, 0, len).contiguous();
      v.ids.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + len);
      v.labels.emplace_back(lab.data_ptr<int64_t>(), lab.data_ptr<int64_t>() + len);
    }
    out.push_back(std::move(v));
  }
  return out;
}

TEST_F(TrainLoaderTest, BatchLayoutAndExactImages) {
  ASSERT_GE(mixture_->size(), 5u);
  const rd::TrainLoaderConfig c = config(3, 0, 1, 0);
  const rd::TextEncoder enc = word_encoder();
  const rd::SampleSource src(c, enc);
  int with_seg = 0, without_seg = 0;
  for (int64_t first = 0; first < 12; first += 3) {
    std::vector<rd::LoadedSample> loaded;
    std::vector<rd::DecoratedSample> decorated;
    for (int64_t i = first; i < first + 3; ++i) {
      loaded.push_back(src.load(0, i));
      decorated.push_back(loaded.back().sample);
    }
    const rd::ReadBatch b = src.collate(std::move(loaded));
    ASSERT_EQ(b.images.sizes(), torch::IntArrayRef({3, 3, 256, 256}));
    ASSERT_EQ(b.images_clip.sizes(), torch::IntArrayRef({3, 3, 112, 112}));
    ASSERT_EQ(b.masks_list.size(), 3u);
    int64_t rows = 0;
    for (const auto& d : decorated) rows += static_cast<int64_t>(d.conversations.size());
    EXPECT_EQ(b.input_ids.size(0), rows);
    EXPECT_EQ(b.labels.sizes(), b.input_ids.sizes());
    EXPECT_TRUE(torch::equal(b.attention_masks, b.input_ids.ne(0)));
    auto offset = b.offset.accessor<int64_t, 1>();
    ASSERT_EQ(b.offset.size(0), 4);
    EXPECT_EQ(offset[0], 0);
    for (int64_t i = 0; i < 3; ++i) {
      SCOPED_TRACE(decorated[i].dataset + " record " + std::to_string(decorated[i].record));
      const rd::DecoratedSample& d = decorated[i];
      EXPECT_EQ(offset[i + 1] - offset[i], static_cast<int64_t>(d.conversations.size()));
      // Images: the fixture-checked preprocessing of the record's image.
      const std::string bytes = src.store(d.dataset).blob(d.image.key);
      rd::DecodeOptions opt;
      opt.apply_exif_orientation = false;
      rd::RgbImage rgb = rd::apply_exif_orientation(
          rd::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), d.image.key, opt).image,
          d.image.orientation);
      const rd::SamInput sam = rd::sam_preprocess(rgb, c.sam);
      // The SAM input only where a row of the image has a [SEG] (zeros elsewhere: never read).
      const bool has_seg = b.input_ids.slice(0, offset[i], offset[i + 1]).eq(enc.seg_id).any().item<bool>();
      EXPECT_TRUE(torch::equal(b.images[i], has_seg ? sam.pixel_values : torch::zeros_like(sam.pixel_values)));
      with_seg += has_seg, without_seg += !has_seg;
      EXPECT_TRUE(torch::equal(b.images_clip[i], rd::clip_preprocess(rgb, c.clip)));
      EXPECT_EQ(b.sam_mask_shape_list[i].sam_h, sam.mask_shape.sam_h);
      EXPECT_EQ(b.sam_mask_shape_list[i].sam_w, sam.mask_shape.sam_w);
      EXPECT_EQ(b.sam_mask_shape_list[i].height, d.image.height);
      EXPECT_EQ(b.sam_mask_shape_list[i].width, d.image.width);
      // Masks: f32 at the original size, one per [SEG] in the image's rows.
      const torch::Tensor& m = b.masks_list[i];
      EXPECT_EQ(m.scalar_type(), torch::kFloat32);
      ASSERT_EQ(m.sizes(), torch::IntArrayRef({int64_t(d.masks.size()), d.image.height, d.image.width}));
      for (size_t k = 0; k < d.masks.size(); ++k) EXPECT_TRUE(torch::equal(m[k], d.masks[k].to(torch::kFloat32)));
      const int64_t segs = b.input_ids.slice(0, offset[i], offset[i + 1]).eq(enc.seg_id).sum().item<int64_t>();
      EXPECT_EQ(segs, m.size(0));
      EXPECT_EQ(b.exists[i], d.exists);
      // Rows: the conversations' ids.
      for (int64_t r = offset[i]; r < offset[i + 1]; ++r) {
        const auto want = enc.encode_with_image(rd::replace_image_tokens(d.conversations[r - offset[i]]));
        const auto row = b.input_ids[r].slice(0, 0, int64_t(want.size())).contiguous();
        EXPECT_EQ(std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + want.size()), want);
      }
    }
  }
  EXPECT_GT(with_seg, 0);  // the 12 samples cover both cases
  EXPECT_GT(without_seg, 0);
}

// Conversations about one target share its mask: one float copy, expanded
// along M, kept expanded by ReadBatch::to; distinct masks are copied each.
TEST(CollateMasks, SharedMaskIsStoredOnce) {
  const torch::Tensor a = torch::randint(0, 2, {5, 7}, torch::kUInt8), b = torch::randint(0, 2, {5, 7}, torch::kUInt8);
  const torch::Tensor shared = rd::collate_masks({a, a, a}, 5, 7);
  ASSERT_EQ(shared.sizes(), torch::IntArrayRef({3, 5, 7}));
  EXPECT_EQ(shared.scalar_type(), torch::kFloat32);
  EXPECT_EQ(shared.stride(0), 0);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(torch::equal(shared[k], a.to(torch::kFloat32)));
  const torch::Tensor distinct = rd::collate_masks({a, b, a}, 5, 7);
  EXPECT_TRUE(distinct.is_contiguous());
  EXPECT_TRUE(torch::equal(distinct, torch::stack({a, b, a}).to(torch::kFloat32)));
  EXPECT_EQ(rd::collate_masks({a}, 5, 7).sizes(), torch::IntArrayRef({1, 5, 7}));
  EXPECT_EQ(rd::collate_masks({}, 5, 7).sizes(), torch::IntArrayRef({0, 5, 7}));
  rd::ReadBatch batch;
  batch.masks_list = {shared, distinct};
  const rd::ReadBatch moved = batch.to(torch::kCPU);
  EXPECT_EQ(moved.masks_list[0].stride(0), 0);
  EXPECT_TRUE(torch::equal(moved.masks_list[0], shared));
  EXPECT_TRUE(torch::equal(moved.masks_list[1], distinct));
}

TEST_F(TrainLoaderTest, WorkersDoNotChangeTheStream) {
  std::vector<SampleView> want;
  {
    rd::TrainLoader l(config(2, 0, 1, 0), word_encoder());
    for (int k = 0; k < 6; ++k)
      for (auto& v : split(l.next())) want.push_back(v);
  }
  for (int workers : {1, 3}) {
    rd::TrainLoader l(config(2, 0, 1, workers), word_encoder());
    std::vector<SampleView> got;
    for (int k = 0; k < 6; ++k)
      for (auto& v : split(l.next())) got.push_back(v);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == want[i]) << workers << " workers, sample " << i;
  }
}

TEST_F(TrainLoaderTest, OneTwoAndFourRanksShareOneGlobalSequence) {
  const int64_t global_batch = 4, steps = 8;  // 32 samples: more than an epoch of 24
  auto global_sequence = [&](int world) {
    std::vector<std::unique_ptr<rd::TrainLoader>> ranks;
    for (int r = 0; r < world; ++r)
      ranks.push_back(std::make_unique<rd::TrainLoader>(config(global_batch / world, r, world, 1), word_encoder()));
    std::vector<SampleView> seq;
    for (int64_t s = 0; s < steps; ++s)
      for (auto& l : ranks)
        for (auto& v : split(l->next())) seq.push_back(v);
    for (auto& l : ranks) {
      const rd::SamplerState st = l->state();
      EXPECT_EQ(st.epoch, 1);
      EXPECT_EQ(st.cursor, 8);
    }
    return seq;
  };
  const std::vector<SampleView> one = global_sequence(1);
  ASSERT_EQ(one.size(), size_t(global_batch * steps));
  for (int world : {2, 4}) {
    const std::vector<SampleView> got = global_sequence(world);
    ASSERT_EQ(got.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(got[i] == one[i]) << world << " ranks, sample " << i;
  }
}

TEST_F(TrainLoaderTest, ResumingMidEpochContinuesExactly) {
  // Rank 1 of 2, micro-batch 2: 6 micro-steps per epoch of 24.
  std::vector<SampleView> straight;
  {
    rd::TrainLoader l(config(2, 1, 2, 2), word_encoder());
    for (int k = 0; k < 10; ++k)
      for (auto& v : split(l.next())) straight.push_back(v);
  }
  rd::SamplerState saved;
  {
    rd::TrainLoader l(config(2, 1, 2, 2), word_encoder());
    for (int k = 0; k < 4; ++k) l.next();
    saved = l.state();  // what a checkpoint stores
  }
  EXPECT_EQ(saved.epoch, 0);
  EXPECT_EQ(saved.cursor, 16);
  rd::TrainLoader resumed(config(2, 1, 2, 2), word_encoder(), saved);
  for (int k = 4; k < 10; ++k) {
    const std::vector<SampleView> got = split(resumed.next());
    ASSERT_EQ(got.size(), 2u);
    for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(got[i] == straight[2 * k + i]) << "micro-step " << k;
  }
  EXPECT_EQ(resumed.state().epoch, 1);  // 10 micro-steps x 4 = 40 = one epoch of 24 + 16
  EXPECT_EQ(resumed.state().cursor, 16);
}

}  // namespace

namespace {

TEST_F(TrainLoaderTest, DctScaledDecodeKeepsSizesMasksAndText) {
  // Targets small enough that the fixture's images (about 120..200 pixels,
  // one with EXIF orientation 6) are at least twice as large: they are
  // decoded at 1/2 scale by the IDCT.
  auto small = [](bool dct) {
    rd::TrainLoaderConfig c = config(4, 0, 1, 0);
    c.sam.target_length = 48;
    c.clip.shortest_edge = c.clip.crop_height = c.clip.crop_width = 24;
    c.dct_scaled_decode = dct;
    return c;
  };
  const rd::TextEncoder enc = word_encoder();
  const rd::SampleSource exact(small(false), enc), fast(small(true), enc);
  int scaled = 0, rotated = 0;
  for (int64_t first = 0; first < 160; first += 4) {
    std::vector<rd::LoadedSample> a, b;
    for (int64_t i = first; i < first + 4; ++i) a.push_back(exact.load(0, i)), b.push_back(fast.load(0, i));
    for (int64_t i = 0; i < 4; ++i) {
      const rd::DecoratedSample& d = a[i].sample;
      const std::string bytes = exact.store(d.dataset).blob(d.image.key);
      rd::DecodeOptions o;
      o.apply_exif_orientation = false;
      o.min_long_side = 48, o.min_short_side = 24;
      scaled += rd::decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), d.image.key, o)
                    .scale_denom > 1;
      rotated += rd::orientation_swaps_axes(d.image.orientation);
    }
    const rd::ReadBatch x = exact.collate(std::move(a)), y = fast.collate(std::move(b));
    EXPECT_TRUE(torch::equal(x.input_ids, y.input_ids));
    EXPECT_TRUE(torch::equal(x.labels, y.labels));
    EXPECT_TRUE(torch::equal(x.offset, y.offset));
    EXPECT_EQ(x.images.sizes(), y.images.sizes());
    EXPECT_EQ(x.images_clip.sizes(), y.images_clip.sizes());
    for (int64_t i = 0; i < 4; ++i) {
      EXPECT_TRUE(torch::equal(x.masks_list[i], y.masks_list[i]));
      EXPECT_EQ(x.sam_mask_shape_list[i].sam_h, y.sam_mask_shape_list[i].sam_h);
      EXPECT_EQ(x.sam_mask_shape_list[i].sam_w, y.sam_mask_shape_list[i].sam_w);
      EXPECT_EQ(x.sam_mask_shape_list[i].height, y.sam_mask_shape_list[i].height);
      EXPECT_EQ(x.sam_mask_shape_list[i].width, y.sam_mask_shape_list[i].width);
      // Same picture: two good downscalers differ a little (normalised units;
      // one 8-bit level is about 0.017).
      EXPECT_LT((x.images[i] - y.images[i]).abs().mean().item<double>(), 0.1);
      EXPECT_LT((x.images_clip[i] - y.images_clip[i]).abs().mean().item<double>(), 0.1);
    }
  }
  EXPECT_GT(scaled, 10) << "the fast path was not exercised";
  EXPECT_GT(rotated, 0) << "no EXIF-rotated image among the samples (" << scaled << " scaled)";
}

}  // namespace
