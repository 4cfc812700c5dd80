// The mixture sampler: shares follow the ratios, ranks split one global
// sequence, resuming from the state continues it exactly.
#include <gtest/gtest.h>

#include <map>

#include "data/mixture_sampler.h"
#include "data/templates.h"
#include "tests/harness/fixtures.h"

namespace {
std::vector<rd::FamilySpec> read_mix() {
  // READ's ReasonSeg recipe: sem_seg||refer_seg||correct_refer_seg||vqa||neg_refer_seg||reason_seg
  return {{"sem_seg", 10, {"ade20k", "cocostuff", "pascal_part", "paco_lvis", "mapillary"}},
          {"refer_seg", 1, {"refclef", "refcoco", "refcoco+", "refcocog"}},
          {"correct_refer_seg", 1, {"fprefcoco", "fprefcoco+", "fprefcocog"}},
          {"vqa", 1, {"llava_instruct_150k"}},
          {"neg_refer_seg", 1, {"R-refcoco", "R-refcoco+", "R-refcocog"}},
          {"reason_seg", 10, {"ReasonSeg|train"}}};
}
}  // namespace

TEST(Sampler, FamilySharesFollowRatios) {
  rd::MixtureSampler s(read_mix(), 1234);
  const int n = 100000;
  std::vector<int> count(6, 0);
  std::map<std::pair<int, int>, int> per_dataset;
  for (int i = 0; i < n; ++i) {
    auto d = s.draw(0, i);
    ++count[d.family];
    ++per_dataset[{d.family, d.dataset}];
  }
  const double ratios[] = {10, 1, 1, 1, 1, 10};
  for (int f = 0; f < 6; ++f) {
    double share = 100.0 * count[f] / n, want = 100.0 * ratios[f] / 24;
    EXPECT_NEAR(share, want, 0.5) << s.families()[f].name;
  }
  // sub-datasets uniform inside a family
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(per_dataset[std::make_pair(0, k)] / double(count[0]), 0.2, 0.02);
}

TEST(Sampler, RanksShareOneGlobalSequence) {
  rd::MixtureSampler s(read_mix(), 7);
  const int64_t global_batch = 8, steps = 20;
  auto sequence = [&](int world) {
    std::vector<std::pair<int, int>> seq(global_batch * steps);
    const int64_t micro = global_batch / world;
    rd::SamplerState st;
    for (int64_t step = 0; step < steps; ++step) {
      for (int r = 0; r < world; ++r)
        for (int64_t idx : rd::MixtureSampler::rank_indices(st.cursor, micro, r, world)) {
          auto d = s.draw(st.epoch, idx);
          seq[step * global_batch + (idx - st.cursor)] = {d.family, d.dataset};
        }
      st = rd::MixtureSampler::advance(st, micro, world, 0);
    }
    return seq;
  };
  auto one = sequence(1);
  EXPECT_EQ(one, sequence(2));
  EXPECT_EQ(one, sequence(4));
}

TEST(Sampler, ResumeContinuesExactly) {
  rd::MixtureSampler s(read_mix(), 99);
  auto run = [&](rd::SamplerState st, int steps, std::vector<int64_t>* out) {
    for (int i = 0; i < steps; ++i) {
      for (int64_t idx : rd::MixtureSampler::rank_indices(st.cursor, 2, 1, 2)) {
        auto d = s.draw(st.epoch, idx);
        auto rng = s.sample_rng(d);
        out->push_back(d.family * 1000000 + rng.below(1000000));
      }
      st = rd::MixtureSampler::advance(st, 2, 2, 12);  // epochs wrap every 3 steps
    }
    return st;
  };
  std::vector<int64_t> straight, resumed;
  run({}, 10, &straight);
  rd::SamplerState mid = run({}, 4, &resumed);
  EXPECT_EQ(mid.epoch, 1);
  EXPECT_EQ(mid.cursor, 4);
  run(mid, 6, &resumed);
  EXPECT_EQ(straight, resumed);
}

TEST(SampleRng, SelectMatchesTheReferenceRule) {
  rd::SampleRng rng(1, 0, 0);
  EXPECT_EQ(rng.select(2, 3), (std::vector<int64_t>{0, 1}));  // short pool: all, in order
  auto k = rng.select(10, 3);
  ASSERT_EQ(k.size(), 3u);
  EXPECT_NE(k[0], k[1]);
  EXPECT_NE(k[1], k[2]);
  EXPECT_NE(k[0], k[2]);
}

TEST(Templates, ProjectSetLoadsAndRulesAreEnforced) {
  auto t = rd::TemplateSet::load(rd::testing::source_dir() + "/configs/templates/read.yaml");
  EXPECT_GE(t.short_questions.size(), 10u);
  EXPECT_EQ(rd::fill_template("a {x} b {x}", "x", "cat"), "a cat b cat");
  char path[] = "/tmp/read_templatesXXXXXX";
  int fd = mkstemp(path);
  std::string bad =
      "short_questions: ['{class_name}?']\nlong_questions: ['{sent}']\nshort_answers: ['no seg']\n"
      "long_answers: ['[SEG]']\nnegative_answers: ['no']\ncorrection_answers: ['{class_name} {gt_name}']\n";
  ASSERT_EQ(write(fd, bad.data(), bad.size()), static_cast<ssize_t>(bad.size()));
  close(fd);
  try {
    rd::TemplateSet::load(path);
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("short_answers[0] must hold 1 [SEG]"), std::string::npos) << e.what();
  }
  unlink(path);
}
