// read_pack preview over the raw_datasets fixture packed into LMDB: the
// samples it prints are the training loader's (same draws, records,
// conversations and masks as SampleSource::load), each with its origin,
// premise modes and masks; the family shares it reports are the sampler's;
// only the data: section of the config is read, strictly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common/error.h"
#include "data/data_config.h"
#include "data/pack.h"
#include "data/sample_preview.h"
#include "tests/data_test_util.h"
#include "tests/harness/fixtures.h"

namespace {
namespace fs = std::filesystem;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Packs the fixture's train splits once for the whole test program.
class Preview : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    families_ = new std::map<std::string, std::vector<std::string>>();
    base_ = new fs::path(rd::testing::pack_fixture_train_splits("read_preview", *families_));
    ASSERT_FALSE(base_->empty());
  }
  static void TearDownTestSuite() {
    fs::remove_all(*base_);
    delete base_;
    delete families_;
  }

  // A whole trainer config whose data: section mixes every packed family
  // with ratios 1, 2, 3, ...; `data_extra` lines go inside data:.
  std::string write_config(const std::string& name, const std::string& data_extra = "",
                           const std::string& other_sections = kOtherSections) const {
    std::ostringstream y;
    y << other_sections << "data:\n"
      << "  packed_dir: " << (*base_ / "packed").string() << "\n"
      << "  templates: " << rd::testing::source_dir() << "/configs/templates/read.yaml\n"
      << "  num_classes_per_sample: 3\n"
      << "  mixture:\n";
    int ratio = 1;
    for (const auto& [family, datasets] : *families_) {
      y << "    - {family: " << family << ", ratio: " << ratio++ << ", datasets: [";
      for (size_t i = 0; i < datasets.size(); ++i) y << (i ? ", " : "") << datasets[i];
      y << "]}\n";
    }
    y << data_extra;
    const fs::path p = *base_ / name;
    std::ofstream(p) << y.str();
    return p.string();
  }

  std::string error_of(const std::string& config) const {
    try {
      rd::DataSection::load(config);
    } catch (const rd::Error& e) {
      return e.what();
    }
    return "";
  }

  static constexpr const char* kOtherSections =
      "model:\n  init: random\n  tokenizer_dir: does/not/matter\n  some_future_key: 1\n"
      "optim: {lr: 1.0e-3}\ntrain: {seed: 3, output_dir: runs/x}\n";
  static fs::path* base_;
  static std::map<std::string, std::vector<std::string>>* families_;
};
fs::path* Preview::base_ = nullptr;
std::map<std::string, std::vector<std::string>>* Preview::families_ = nullptr;

TEST_F(Preview, PrintsTheLoadersSamplesAndShares) {
  ASSERT_EQ(families_->size(), 6u) << "the fixture should pack a dataset of every family";
  const std::string cfg = write_config("mix.yaml");
  const rd::DataSection data = rd::DataSection::load(cfg);  // other sections are not ours: no error
  rd::PreviewOptions o;
  o.n = 60;
  o.seed = 11;
  std::ostringstream out;
  const std::vector<rd::FamilyShare> shares = rd::preview_samples(data, o, out);
  const std::string text = out.str();

  // The loader's own samples, images and masks included (a whitespace
  // encoder: every conversation fits the budget).
  rd::TrainLoaderConfig lc = rd::loader_config(data, o.seed);
  rd::TextEncoder enc;
  enc.encode_with_image = [](const std::string& s) { return std::vector<int64_t>(count_of(s, " ") + 1, 1); };
  const rd::SampleSource loader(lc, enc);

  const std::regex header(
      R"(=== sample (\d+) \| family (\S+) \| dataset (\S+) \| record (\d+) \| image (\S+) \((\d+)x(\d+) HxW\)\n(\d+) conversation\(s\), (\d+) mask\(s\)(.*)\n)");
  std::vector<std::string> blocks;
  for (size_t p = text.find("=== sample "); p != std::string::npos;) {
    size_t q = text.find("\n=== sample ", p + 1);
    if (q == std::string::npos) q = text.find("\nfamily shares over", p);
    ASSERT_NE(q, std::string::npos);
    blocks.push_back(text.substr(p, q + 1 - p));
    p = text.find("=== sample ", q);
  }
  ASSERT_EQ(blocks.size(), 60u) << text.substr(0, 3000);
  std::set<std::string> families_seen, premises_seen;
  for (int64_t i = 0; i < o.n; ++i) {
    SCOPED_TRACE(blocks[i].substr(0, 200));
    std::smatch m;
    ASSERT_TRUE(std::regex_search(blocks[i], m, header));
    const rd::LoadedSample want = loader.load(0, i);
    const rd::DecoratedSample& s = want.sample;
    const rd::SampleDraw d = loader.sampler().draw(0, i);
    EXPECT_EQ(std::stoll(m[1]), i);
    EXPECT_EQ(m[2], loader.sampler().families()[d.family].name);
    EXPECT_EQ(m[2], s.family);
    EXPECT_EQ(m[3], s.dataset);
    EXPECT_EQ(std::stoll(m[4]), s.record);
    EXPECT_EQ(m[5], s.image.key);
    EXPECT_EQ(std::stoi(m[6]), s.image.height);
    EXPECT_EQ(std::stoi(m[7]), s.image.width);
    EXPECT_EQ(std::stoul(m[8]), s.conversations.size());
    EXPECT_EQ(std::stoul(m[9]), s.masks.size());
    // Mask sizes are the original image size, with their pixel counts.
    std::string sizes;
    for (size_t k = 0; k < s.masks.size(); ++k)
      sizes += (k ? ", " : ": ") + std::to_string(s.masks[k].size(0)) + "x" + std::to_string(s.masks[k].size(1)) +
               " (" + std::to_string(s.masks[k].sum().item<int64_t>()) + " px set)";
    EXPECT_EQ(m[10], sizes);
    // Every conversation verbatim, with its premise mode and [SEG] count.
    size_t segs = 0;
    for (size_t c = 0; c < s.conversations.size(); ++c) {
      const std::string conv = s.conversations[c];
      const size_t n_seg = count_of(conv, "[SEG]");
      segs += n_seg;
      const std::string line = "--- conversation " + std::to_string(c + 1) + "/" +
                               std::to_string(s.conversations.size()) + " | premise " + s.premise[c] +
                               " | exists " + (s.exists[c] ? "true" : "false") + " | " +
                               std::to_string(n_seg) + " [SEG]\n" + conv + "\n";
      EXPECT_NE(blocks[i].find(line), std::string::npos) << line;
      EXPECT_EQ(conv.rfind("A chat between a curious human", 0), 0u) << conv;
      EXPECT_NE(conv.find("USER: <image>\n"), std::string::npos) << conv;
      EXPECT_EQ(n_seg, s.premise[c] == "true" ? 1u : 0u) << conv;
      premises_seen.insert(s.premise[c]);
    }
    EXPECT_EQ(segs, s.masks.size());
    families_seen.insert(s.family);
  }
  EXPECT_GE(families_seen.size(), 5u);
  EXPECT_TRUE(premises_seen.count("true") && premises_seen.count("vqa")) << text.substr(0, 2000);

  // Shares: the sampler's draws, against the normalised ratios 1..6.
  ASSERT_EQ(shares.size(), 6u);
  std::vector<int64_t> want_drawn(6, 0);
  for (int64_t i = 0; i < o.n; ++i) ++want_drawn[loader.sampler().draw(0, i).family];
  int64_t total = 0;
  for (size_t f = 0; f < 6; ++f) {
    EXPECT_EQ(shares[f].drawn, want_drawn[f]) << shares[f].family;
    EXPECT_NEAR(shares[f].configured, (f + 1) / 21.0, 1e-12);
    total += shares[f].drawn;
    char line[160];
    std::snprintf(line, sizeof line, "  %-20s%8d%11.2f%%%8lld%9.2f%%", shares[f].family.c_str(), int(f + 1),
                  100.0 * (f + 1) / 21.0, static_cast<long long>(shares[f].drawn),
                  100.0 * double(shares[f].drawn) / double(o.n));
    EXPECT_NE(text.find(line), std::string::npos) << "no share line '" << line << "' in\n"
                                                   << text.substr(text.find("family shares"));
  }
  EXPECT_EQ(total, o.n);
  EXPECT_NE(text.find("family shares over 60 draws"), std::string::npos);
}

TEST_F(Preview, DeterministicPerSeedAndSharesConverge) {
  const rd::DataSection data = rd::DataSection::load(write_config("seeds.yaml"));
  auto run = [&](uint64_t seed, int64_t n, bool samples, std::vector<rd::FamilyShare>* shares = nullptr) {
    rd::PreviewOptions o;
    o.n = n, o.seed = seed, o.print_samples = samples;
    std::ostringstream out;
    auto s = rd::preview_samples(data, o, out);
    if (shares) *shares = s;
    return out.str();
  };
  EXPECT_EQ(run(5, 12, true), run(5, 12, true));
  EXPECT_NE(run(5, 12, true), run(6, 12, true));
  // Shares only, over 100,000 draws: within 0.5 percentage points of the ratios.
  std::vector<rd::FamilyShare> shares;
  const std::string text = run(5, 100000, false, &shares);
  EXPECT_EQ(text.find("=== sample"), std::string::npos);
  for (const auto& s : shares) EXPECT_NEAR(100.0 * s.drawn / 100000.0, 100.0 * s.configured, 0.5) << s.family;
}

TEST_F(Preview, ConfigErrorsAreClear) {
  // Unknown keys inside data: are errors naming the key (other sections are not read).
  std::string cfg = write_config("typo.yaml", "  num_clases_per_sample: 2\n");
  EXPECT_EQ(error_of(cfg), cfg + ": unknown key 'data.num_clases_per_sample'; did you mean "
                                 "'data.num_classes_per_sample'?");
  // No other section at all is fine too.
  EXPECT_EQ(error_of(write_config("data_only.yaml", "", "")), "");

  std::ofstream(*base_ / "nodata.yaml") << kOtherSections;
  EXPECT_EQ(error_of((*base_ / "nodata.yaml").string()), (*base_ / "nodata.yaml").string() + ": no 'data:' section");

  std::ofstream(*base_ / "absent.yaml") << "data:\n  packed_dir: " << (*base_ / "packed").string()
                                        << "\n  templates: " << rd::testing::source_dir()
                                        << "/configs/templates/read.yaml\n  mixture:\n"
                                        << "    - {family: sem_seg, ratio: 1, datasets: [no_such_set]}\n";
  std::string e = error_of((*base_ / "absent.yaml").string());
  EXPECT_NE(e.find("data.mixture[0].datasets: no packed dataset 'no_such_set'"), std::string::npos) << e;
  EXPECT_NE(e.find("run read_pack first"), std::string::npos) << e;

  std::ofstream(*base_ / "badfamily.yaml") << "data:\n  packed_dir: " << (*base_ / "packed").string()
                                           << "\n  mixture:\n    - {family: semseg, ratio: 1, datasets: [ade20k]}\n";
  e = error_of((*base_ / "badfamily.yaml").string());
  EXPECT_NE(e.find("key 'data.mixture[0].family' is 'semseg', expected one of: sem_seg,"), std::string::npos) << e;

  std::ofstream(*base_ / "zero.yaml") << "data:\n  packed_dir: " << (*base_ / "packed").string()
                                      << "\n  mixture:\n    - {family: sem_seg, ratio: 0, datasets: [ade20k]}\n";
  e = error_of((*base_ / "zero.yaml").string());
  EXPECT_NE(e.find("every ratio is 0"), std::string::npos) << e;

  std::ofstream(*base_ / "type.yaml") << "data:\n  packed_dir: " << (*base_ / "packed").string()
                                      << "\n  mixture:\n    - {family: sem_seg, ratio: lots, datasets: [ade20k]}\n";
  e = error_of((*base_ / "type.yaml").string());
  EXPECT_NE(e.find("key 'data.mixture[0].ratio' expects a number, got 'lots'"), std::string::npos) << e;

  rd::PreviewOptions o;
  o.n = 0;
  std::ostringstream out;
  EXPECT_THROW(rd::preview_samples(rd::DataSection::load(write_config("ok.yaml")), o, out), rd::Error);
}

}  // namespace
