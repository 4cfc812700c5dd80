// The flat partition layout and the optimizer-state conversions a checkpoint
// tool needs without MPI: pieces, padding, JSON, gather/scatter, shards <->
// consolidated state at any world size, and the errors they raise.
#include <gtest/gtest.h>

#include "tests/harness/errors.h"
#include "common/error.h"
#include "sharding/zero_state.h"

namespace {

// a [2,3] at 0, b [5] at 6, c [4,1] at 11: 15 elements.
rd::PartitionLayout abc(int world) {
  return rd::PartitionLayout::make({{"a", {2, 3}}, {"b", {5}}, {"c", {4, 1}}}, world);
}

using rd::testing::error_of;  // "no error" when nothing is thrown

TEST(Layout, OffsetsPaddingPartitions) {
  const rd::PartitionLayout l = abc(4);
  EXPECT_EQ(l.total_numel, 15);
  EXPECT_EQ(l.partition_numel, 4);
  EXPECT_EQ(l.padded_numel, 16);
  EXPECT_EQ(l.param("b").offset, 6);
  EXPECT_EQ(l.param("c").offset, 11);
  EXPECT_EQ(l.partition_begin(3), 12);
  EXPECT_EQ(abc(1).padded_numel, 15);
  EXPECT_EQ(abc(5).partition_numel, 3);
  std::vector<std::tuple<size_t, int64_t, int64_t, int64_t>> pieces;
  l.for_each_piece(5, 16, [&](size_t i, int64_t at, int64_t flat, int64_t n) {
    pieces.emplace_back(i, at, flat, n);
  });
  using P = std::tuple<size_t, int64_t, int64_t, int64_t>;
  EXPECT_EQ(pieces, (std::vector<P>{P{0, 5, 5, 1}, P{1, 0, 6, 5}, P{2, 0, 11, 4}}));
  EXPECT_NE(error_of([] { abc(0); }), "no error");
  EXPECT_EQ(error_of([] {
              rd::PartitionLayout::make({{"a", {1}}, {"a", {2}}}, 1);
            }),
            "partition layout: parameter 'a' appears twice");
}

TEST(Layout, JsonRoundTripAndTampering) {
  const rd::PartitionLayout l = abc(3);
  EXPECT_EQ(rd::PartitionLayout::from_json(l.to_json()), l);
  EXPECT_EQ(l.resharded(4), abc(4));
  EXPECT_NE(abc(3).fingerprint(), abc(4).fingerprint());
  std::string bad = l.to_json();
  bad.replace(bad.find("\"offset\":6"), 10, "\"offset\":7");
  EXPECT_NE(error_of([&] {
              rd::PartitionLayout::from_json(bad);
            }).find("parameter 'b' stored at offset 7"),
            std::string::npos);
  EXPECT_NE(error_of([] { rd::PartitionLayout::from_json("{\"params\": 3}"); }).find("JSON"),
            std::string::npos);
}

TEST(Layout, GatherScatterWithPaddingAndMissingGradients) {
  const rd::PartitionLayout l = abc(4);
  std::vector<torch::Tensor> src = {torch::arange(6).view({2, 3}).to(torch::kBFloat16),
                                    torch::Tensor(), torch::arange(4).view({4, 1}) + 100};
  torch::Tensor dst = torch::full({8}, -1.0f);
  rd::gather_flat(l, src, 8, dst);  // b[2:5], c, padding
  EXPECT_TRUE(torch::equal(dst, torch::tensor({0.f, 0.f, 0.f, 100.f, 101.f, 102.f, 103.f, 0.f})));
  std::vector<torch::Tensor> out = {torch::zeros({2, 3}), torch::zeros({5}), torch::zeros({4, 1})};
  rd::scatter_flat(l, torch::arange(16).to(torch::kFloat), 0, out);
  EXPECT_TRUE(torch::equal(out[1], torch::arange(6, 11).to(torch::kFloat)));
  EXPECT_TRUE(torch::equal(out[2].view(-1), torch::arange(11, 15).to(torch::kFloat)));
}

rd::ConsolidatedState random_state() {
  torch::manual_seed(5);
  rd::ConsolidatedState s;
  s.step = 17;
  for (auto& [name, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"a", {2, 3}}, {"b", {5}}, {"c", {4, 1}}}) {
    s.master[name] = torch::randn(shape);
    s.exp_avg[name] = torch::randn(shape);
    s.exp_avg_sq[name] = torch::rand(shape);
  }
  return s;
}

void expect_equal(const rd::ConsolidatedState& a, const rd::ConsolidatedState& b) {
  EXPECT_EQ(a.step, b.step);
  for (auto maps : {&rd::ConsolidatedState::master, &rd::ConsolidatedState::exp_avg,
                    &rd::ConsolidatedState::exp_avg_sq}) {
    ASSERT_EQ((a.*maps).size(), (b.*maps).size());
    for (const auto& [k, v] : a.*maps) EXPECT_TRUE(torch::equal(v, (b.*maps).at(k))) << k;
  }
}

std::vector<rd::ZeroShardState> shards_of(const rd::ConsolidatedState& s, int world) {
  std::vector<rd::ZeroShardState> out;
  for (int r = world - 1; r >= 0; --r) out.push_back(rd::shard_consolidated(s, abc(world), r));
  return out;  // in reverse rank order on purpose
}

TEST(ZeroState, ReshardsAcrossWorldSizes) {
  const rd::ConsolidatedState s = random_state();
  const auto four = shards_of(s, 4);
  EXPECT_EQ(four[0].rank, 3);
  EXPECT_EQ(four[0].master.numel(), 4);
  EXPECT_EQ(four[0].master[3].item<float>(), 0.0f);  // padding
  expect_equal(rd::consolidate_shards(four), s);
  expect_equal(rd::consolidate_shards(shards_of(rd::consolidate_shards(four), 3)), s);
  expect_equal(rd::consolidate_shards(shards_of(s, 1)), s);
}

TEST(ZeroState, ErrorsNameTheParameter) {
  rd::ConsolidatedState s = random_state();
  rd::ConsolidatedState missing = s;
  missing.exp_avg.erase("b");
  EXPECT_EQ(error_of([&] { rd::shard_consolidated(missing, abc(2), 0); }),
            "optimizer state 'exp_avg' has no parameter 'b'");
  rd::ConsolidatedState shaped = s;
  shaped.master["c"] = torch::zeros({1, 4});
  EXPECT_EQ(error_of([&] { rd::shard_consolidated(shaped, abc(2), 0); }),
            "optimizer state 'master' parameter 'c' has shape [1, 4], the model's is [4, 1]");
  rd::ConsolidatedState extra = s;
  extra.exp_avg_sq["lm_head.weight"] = torch::zeros({1});
  EXPECT_NE(error_of([&] { rd::shard_consolidated(extra, abc(2), 0); }).find("'lm_head.weight'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { rd::shard_consolidated(s, abc(2), 2); }), "no error");

  auto shards = shards_of(s, 3);
  auto dup = shards;
  dup[1].rank = dup[0].rank;
  EXPECT_NE(error_of([&] { rd::consolidate_shards(dup); }).find("repeated"), std::string::npos);
  auto fewer = shards;
  fewer.pop_back();
  EXPECT_NE(error_of([&] { rd::consolidate_shards(fewer); }).find("2 shards for world size 3"),
            std::string::npos);
  auto steps = shards;
  steps[2].step = 3;
  EXPECT_NE(error_of([&] { rd::consolidate_shards(steps); }).find("step"), std::string::npos);
}

}  // namespace
