// Decorated samples from packed fixture datasets: every family gives
// conversations whose [SEG] count equals its mask count, masks at the
// record's image size, and the same sample for the same (seed, epoch, index).
#include <filesystem>

#include "data/pack.h"
#include "data/sample_builder.h"
#include "tests/harness/fixtures.h"

namespace fs = std::filesystem;

TEST(Samples, EveryPackedFamilyDecorates) {
  for (const auto& c : rd::testing::cases_of_kind("raw_datasets")) {
    fs::path out = fs::temp_directory_path() / ("read_samples_" + std::to_string(::getpid()));
    rd::PackOptions opt;
    opt.root = c.file("dataset_root");
    opt.out = out.string();
    opt.skip_bad = true;
    opt.progress = false;
    auto templates = rd::TemplateSet::load(rd::testing::source_dir() + "/configs/templates/read.yaml");
    int built = 0;
    for (const auto& ds : rd::pack_datasets()) {
      if (!ds.present(opt.root)) continue;
      const std::string split = "train";
      try {
        rd::pack_dataset(ds, split, opt);
      } catch (const std::exception& e) {
        continue;  // datasets the fixture marks as defective (problems.json)
      }
      rd::PackReader store(rd::pack_dir(opt.out, ds.name, split));
      for (size_t i = 0; i < store.size(); ++i) {
        for (int trial = 0; trial < 3; ++trial) {
          rd::SampleRng rng(7, 0, static_cast<int64_t>(i) * 10 + trial), again = rng;
          rd::DecoratedSample s = rd::build_sample(ds.family, store, i, rng, templates, {});
          rd::DecoratedSample t = rd::build_sample(ds.family, store, i, again, templates, {});
          EXPECT_EQ(s.conversations, t.conversations) << ds.name;
          size_t segs = 0;
          for (const auto& conv : s.conversations) {
            EXPECT_EQ(conv.find("USER: <image>\n"), conv.find("USER: ")) << conv;
            for (size_t p = conv.find("[SEG]"); p != std::string::npos; p = conv.find("[SEG]", p + 1)) ++segs;
          }
          EXPECT_EQ(segs, s.masks.size()) << ds.name << " record " << i;
          EXPECT_EQ(s.exists.size(), s.conversations.size());
          for (const auto& m : s.masks) {
            EXPECT_EQ(m.size(0), s.image.height);
            EXPECT_EQ(m.size(1), s.image.width);
            EXPECT_LE(m.max().item<int>(), 1);
          }
          ++built;
        }
      }
    }
    EXPECT_GT(built, 20);
    fs::remove_all(out);
  }
}
