// Prefetching loader: background worker threads produce items from a
// function of the global sample index, and the consumer receives them in
// index order (begin, begin + 1, ...), whatever order the workers finish in.
//
//  - Bounded memory: at most `max_in_flight` items exist at once (being
//    produced or waiting for the consumer), plus the one the consumer holds.
//    A worker only starts index i once index i - max_in_flight was consumed.
//  - Errors: an exception thrown while producing index i reaches the consumer
//    when it asks for item i, as LoaderError (which names i and keeps the
//    original exception). Item i then counts as consumed: calling next()
//    again continues with i + 1, so the caller decides whether a bad sample
//    stops training or is skipped.
//  - Shutdown: destroying the loader (or stop()) wakes and joins the workers;
//    an item being produced is finished first (production is not interrupted).
//  - Determinism: items depend only on their index (the producer must derive
//    any randomness from the index), so the sequence is the same for any
//    number of workers, and a run resumes mid-epoch by starting at `begin`.
//  - num_workers = 0 produces each item in the consumer's thread (debugging).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace rd {

struct PrefetchOptions {
  int num_workers = 2;
  int max_in_flight = 4;
  int64_t begin = 0;  // first global index
  int64_t end = -1;   // one past the last index; -1 = unbounded
};

class LoaderError : public Error {
 public:
  LoaderError(int64_t index, std::exception_ptr cause, const std::string& message)
      : Error(message), index_(index), cause_(std::move(cause)) {}
  int64_t index() const { return index_; }
  // The producer's exception, for std::rethrow_exception.
  std::exception_ptr cause() const { return cause_; }

 private:
  int64_t index_;
  std::exception_ptr cause_;
};

// The type-erased scheduling core: `work(index, slot)` fills slot `slot`
// (0 <= slot < max_in_flight) with item `index`; the consumer acquires slots
// in index order and releases them when it has taken the item.
class PrefetchScheduler {
 public:
  using Work = std::function<void(int64_t index, int slot)>;
  PrefetchScheduler(Work work, const PrefetchOptions& options);
  ~PrefetchScheduler();
  PrefetchScheduler(const PrefetchScheduler&) = delete;
  PrefetchScheduler& operator=(const PrefetchScheduler&) = delete;

  // Waits for the next item in index order. false at the end (or after
  // stop()); throws LoaderError if producing it failed.
  bool acquire(int64_t* index, int* slot);
  // Gives the acquired slot back to the workers.
  void release(int slot);
  // Stops and joins the workers. Idempotent.
  void stop();
  int64_t next_index() const;

 private:
  enum class State { kFree, kBusy, kReady, kFailed };
  void worker_loop();
  bool can_claim() const;
  [[noreturn]] void raise(int64_t index, std::exception_ptr error);

  Work work_;
  const PrefetchOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<State> state_;
  std::vector<std::exception_ptr> error_;
  int64_t next_claim_, next_consume_, released_upto_;
  bool holding_ = false;  // the consumer holds an acquired slot
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

template <typename T>
class PrefetchLoader {
 public:
  using Producer = std::function<T(int64_t index)>;

  explicit PrefetchLoader(Producer produce, const PrefetchOptions& options = {})
      : produce_(std::move(produce)),
        slots_(size_t(options.max_in_flight > 0 ? options.max_in_flight : 1)),
        scheduler_([this](int64_t index, int slot) { slots_[slot].emplace(produce_(index)); },
                   options) {}

  // The next item in index order; std::nullopt after the last index.
  // Throws LoaderError when producing this item failed (see above).
  std::optional<T> next() {
    int64_t index = 0;
    int slot = 0;
    if (!scheduler_.acquire(&index, &slot)) return std::nullopt;
    std::optional<T> item = std::move(slots_[slot]);
    slots_[slot].reset();
    scheduler_.release(slot);
    return item;
  }

  // The index the next call to next() returns.
  int64_t next_index() const { return scheduler_.next_index(); }
  void stop() { scheduler_.stop(); }

 private:
  Producer produce_;
  std::vector<std::optional<T>> slots_;
  PrefetchScheduler scheduler_;  // last: its workers are joined before the slots go away
};

}  // namespace rd
