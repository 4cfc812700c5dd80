#include "data/prefetch_loader.h"

namespace rd {

PrefetchScheduler::PrefetchScheduler(Work work, const PrefetchOptions& options)
    : work_(std::move(work)),
      options_(options),
      next_claim_(options.begin),
      next_consume_(options.begin),
      released_upto_(options.begin) {
  READ_CHECK(options.max_in_flight >= 1, "PrefetchLoader: max_in_flight must be >= 1, got ",
             options.max_in_flight);
  READ_CHECK(options.num_workers >= 0, "PrefetchLoader: num_workers must be >= 0, got ",
             options.num_workers);
  READ_CHECK(options.begin >= 0 && (options.end < 0 || options.end >= options.begin),
             "PrefetchLoader: bad index range [", options.begin, ", ", options.end, ")");
  state_.assign(size_t(options.max_in_flight), State::kFree);
  error_.resize(size_t(options.max_in_flight));
  workers_.reserve(size_t(options.num_workers));
  for (int i = 0; i < options.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

PrefetchScheduler::~PrefetchScheduler() { stop(); }

bool PrefetchScheduler::can_claim() const {
  return !stop_ && (options_.end < 0 || next_claim_ < options_.end) &&
         next_claim_ < released_upto_ + options_.max_in_flight;
}

void PrefetchScheduler::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || can_claim(); });
    if (stop_) return;
    const int64_t index = next_claim_++;
    const int slot = int(index % options_.max_in_flight);
    state_[slot] = State::kBusy;
    lock.unlock();
    std::exception_ptr error;
    try {
      work_(index, slot);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_[slot] = error;
    state_[slot] = error ? State::kFailed : State::kReady;
    ready_cv_.notify_all();
  }
}

bool PrefetchScheduler::acquire(int64_t* index, int* slot_out) {
  std::unique_lock<std::mutex> lock(mu_);
  READ_CHECK(!holding_, "PrefetchLoader: acquire() while the previous slot is not released");
  if (stop_ || (options_.end >= 0 && next_consume_ >= options_.end)) return false;
  const int64_t i = next_consume_;
  const int slot = int(i % options_.max_in_flight);
  if (options_.num_workers == 0) {  // produce in the consumer's thread
    next_claim_ = i + 1;
    state_[slot] = State::kBusy;
    lock.unlock();
    std::exception_ptr error;
    try {
      work_(i, slot);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    error_[slot] = error;
    state_[slot] = error ? State::kFailed : State::kReady;
  } else {
    ready_cv_.wait(lock, [&] {
      return stop_ || state_[slot] == State::kReady || state_[slot] == State::kFailed;
    });
    if (state_[slot] != State::kReady && state_[slot] != State::kFailed) return false;  // stopped
  }
  ++next_consume_;
  if (state_[slot] == State::kFailed) {
    std::exception_ptr error = std::move(error_[slot]);
    error_[slot] = nullptr;
    state_[slot] = State::kFree;
    ++released_upto_;
    work_cv_.notify_one();
    lock.unlock();
    raise(i, error);
  }
  holding_ = true;
  *index = i;
  *slot_out = slot;
  return true;
}

void PrefetchScheduler::release(int slot) {
  std::lock_guard<std::mutex> lock(mu_);
  READ_CHECK(holding_ && slot >= 0 && slot < options_.max_in_flight,
             "PrefetchLoader: release() of a slot that was not acquired");
  holding_ = false;
  state_[slot] = State::kFree;
  ++released_upto_;
  work_cv_.notify_one();
}

void PrefetchScheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
}

int64_t PrefetchScheduler::next_index() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_consume_;
}

void PrefetchScheduler::raise(int64_t index, std::exception_ptr error) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  throw LoaderError(index, error, "loader item " + std::to_string(index) + ": " + what);
}

}  // namespace rd
