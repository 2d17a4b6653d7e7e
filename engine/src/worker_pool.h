// Internal: a fixed set of threads that run one indexed loop at a time, for the CPU engine's layers.
// Unlike parallel_for, the threads live as long as the pool: a ViT forward runs a few loops per layer, each a
// fraction of a millisecond, and starting threads for each would cost as much as the work.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace distrvit {

class WorkerPool {
 public:
  // `threads` counts the caller's thread, which takes part in every loop (0 = all cores).
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }

  // Runs body(item, thread) for every item in [0, count) and returns when all are done; `thread` in
  // [0, threads()) tells the caller's scratch apart. The first exception thrown by a body skips the items not yet
  // started and is rethrown here. Not reentrant: a body must not call run on the same pool.
  using Body = std::function<void(size_t item, int thread)>;
  void run(size_t count, const Body& body);

 private:
  void worker_main(int thread);
  void take_items(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_, work_done_;
  std::atomic<uint64_t> generation_{0};  // one per run; workers wait for it to change
  std::atomic<bool> stopping_{false};
  std::atomic<int> workers_busy_{0};
  std::atomic<size_t> next_item_{0};
  size_t item_count_ = 0;
  const Body* body_ = nullptr;
  std::exception_ptr first_error_;  // guarded by mutex_
};

}  // namespace distrvit
