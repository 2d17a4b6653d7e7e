#include "worker_pool.h"

#include <algorithm>

namespace distrvit {
namespace {

// How long a waiting thread polls before it sleeps (50-150 us): long enough to bridge the gap between two loops of a
// forward, short enough that idle workers leave the cores to others (a GUI's render thread). 20000 polls ran no
// faster.
constexpr int kSpinPolls = 2000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

template <typename Ready>
bool spin_until(Ready ready) {
  for (int poll = 0; poll < kSpinPolls; ++poll) {
    if (ready()) return true;
    cpu_relax();
  }
  return false;
}

}  // namespace

WorkerPool::WorkerPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int thread = 1; thread < threads; ++thread) workers_.emplace_back([this, thread] { worker_main(thread); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void WorkerPool::take_items(int thread) {
  for (size_t item = next_item_++; item < item_count_; item = next_item_++) {
    try {
      (*body_)(item, thread);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_error_) first_error_ = std::current_exception();
      next_item_ = item_count_;
    }
  }
}

void WorkerPool::worker_main(int thread) {
  uint64_t seen = 0;
  for (;;) {
    auto has_work = [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(has_work)) {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, has_work);
    }
    if (stopping_) return;
    seen = generation_.load(std::memory_order_acquire);
    take_items(thread);
    if (workers_busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between its check and its wait
      work_done_.notify_one();
    }
  }
}

void WorkerPool::run(size_t count, const Body& body) {
  if (count == 0) return;
  if (workers_.empty() || count == 1) {
    for (size_t item = 0; item < count; ++item) body(item, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    item_count_ = count;
    next_item_ = 0;
    first_error_ = nullptr;
    workers_busy_ = int(workers_.size());
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_ready_.notify_all();
  take_items(0);
  auto all_done = [&] { return workers_busy_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(mutex_);
    work_done_.wait(lock, all_done);
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error = first_error_;
    body_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace distrvit
