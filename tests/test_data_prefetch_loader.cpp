// PrefetchLoader: index order whatever the workers' timing, bounded number of
// live items, producer exceptions reach the consumer with the index, clean
// shutdown in every state.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "data/prefetch_loader.h"

namespace rd {
namespace {

using namespace std::chrono_literals;

// A deterministic, index-dependent delay that makes workers finish out of order.
void jitter(int64_t i) { std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 5 * 300)); }

TEST(PrefetchLoader, ItemsArriveInIndexOrder) {
  for (int workers : {0, 1, 2, 4}) {
    SCOPED_TRACE(workers);
    PrefetchOptions o;
    o.num_workers = workers;
    o.max_in_flight = 3;
    o.begin = 100;
    o.end = 160;
    PrefetchLoader<int64_t> loader(
        [](int64_t i) {
          jitter(i);
          return i * i;
        },
        o);
    for (int64_t i = 100; i < 160; ++i) {
      EXPECT_EQ(loader.next_index(), i);
      std::optional<int64_t> v = loader.next();
      ASSERT_TRUE(v.has_value());
      EXPECT_EQ(*v, i * i);
    }
    EXPECT_FALSE(loader.next().has_value());
    EXPECT_FALSE(loader.next().has_value());
  }
}

TEST(PrefetchLoader, LiveItemsAreBounded) {
  std::atomic<int> live{0}, max_live{0};
  PrefetchOptions o;
  o.num_workers = 3;
  o.max_in_flight = 4;
  o.end = 40;
  PrefetchLoader<std::shared_ptr<int>> loader(
      [&](int64_t i) {
        const int now = ++live;
        int m = max_live.load();
        while (now > m && !max_live.compare_exchange_weak(m, now)) {
        }
        // The item's destructor marks it dead.
        return std::shared_ptr<int>(new int(int(i)), [&](int* p) {
          --live;
          delete p;
        });
      },
      o);
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(1ms);  // slow consumer: the window fills up
    auto item = loader.next();
    ASSERT_TRUE(item && *item && **item == i);
  }
  EXPECT_LE(max_live.load(), o.max_in_flight + 1);  // + the one the consumer holds
  EXPECT_GE(max_live.load(), o.max_in_flight);      // and the window was used
}

TEST(PrefetchLoader, ProducerErrorsReachTheConsumerWithTheIndex) {
  PrefetchOptions o;
  o.num_workers = 2;
  o.max_in_flight = 3;
  o.end = 10;
  PrefetchLoader<int> loader(
      [](int64_t i) -> int {
        if (i == 5 || i == 6) throw std::runtime_error("image ade/000" + std::to_string(i) + ".jpg: corrupt");
        return int(i);
      },
      o);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(loader.next().value(), i);
  for (int bad : {5, 6}) {
    try {
      loader.next();
      ADD_FAILURE() << "no error for item " << bad;
    } catch (const LoaderError& e) {
      EXPECT_EQ(e.index(), bad);
      EXPECT_NE(std::string(e.what()).find("loader item " + std::to_string(bad)), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos);
      EXPECT_THROW(std::rethrow_exception(e.cause()), std::runtime_error);
    }
  }
  for (int i = 7; i < 10; ++i) EXPECT_EQ(loader.next().value(), i);  // continues after errors
  EXPECT_FALSE(loader.next().has_value());
}

TEST(PrefetchLoader, ShutdownInEveryState) {
  // Window full, workers waiting for the consumer.
  {
    PrefetchLoader<int> loader([](int64_t i) { return int(i); }, PrefetchOptions{2, 2, 0, -1});
    EXPECT_EQ(loader.next().value(), 0);
    std::this_thread::sleep_for(10ms);
  }
  // Workers in the middle of slow items: they finish them, then stop.
  {
    std::atomic<int> started{0};
    auto t0 = std::chrono::steady_clock::now();
    {
      PrefetchLoader<int> loader(
          [&](int64_t i) {
            ++started;
            std::this_thread::sleep_for(50ms);
            return int(i);
          },
          PrefetchOptions{2, 4, 0, -1});
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_GE(started.load(), 1);
  }
  // Range exhausted, workers idle.
  {
    PrefetchLoader<int> loader([](int64_t i) { return int(i); }, PrefetchOptions{2, 2, 0, 3});
    while (loader.next()) {
    }
  }
  // Explicit stop: next() then reports the end.
  {
    PrefetchLoader<int> loader([](int64_t i) { return int(i); }, PrefetchOptions{2, 2, 0, -1});
    loader.stop();
    EXPECT_FALSE(loader.next().has_value());
  }
  // Never consumed.
  { PrefetchLoader<int> loader([](int64_t i) { return int(i); }, PrefetchOptions{2, 8, 0, -1}); }
}

TEST(PrefetchLoader, MoveOnlyItemsAndStress) {
  PrefetchOptions o;
  o.num_workers = 4;
  o.max_in_flight = 1;
  o.end = 2000;
  PrefetchLoader<std::unique_ptr<int64_t>> loader(
      [](int64_t i) { return std::make_unique<int64_t>(i + 1); }, o);
  int64_t n = 0;
  while (auto item = loader.next()) {
    ASSERT_EQ(**item, n + 1);
    ++n;
  }
  EXPECT_EQ(n, 2000);
}

TEST(PrefetchLoader, BadOptionsAreErrors) {
  auto make = [](PrefetchOptions o) { PrefetchLoader<int> l([](int64_t) { return 0; }, o); };
  EXPECT_THROW(make(PrefetchOptions{2, 0, 0, -1}), Error);
  EXPECT_THROW(make(PrefetchOptions{-1, 2, 0, -1}), Error);
  EXPECT_THROW(make(PrefetchOptions{2, 2, 5, 3}), Error);
}

}  // namespace
}  // namespace rd
