// Events per second over a sliding window of recent timestamps.
#pragma once
#include <chrono>
#include <deque>

namespace distrvit::media {

class RateMeter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateMeter(double window_seconds = 2.0) : window_(window_seconds) {}

  // Records one event at `now` and returns the current rate.
  double tick(Clock::time_point now = Clock::now()) {
    times_.push_back(now);
    while (times_.size() > 2 && std::chrono::duration<double>(now - times_.front()).count() > window_) {
      times_.pop_front();
    }
    if (times_.size() < 2) return 0;
    const double span = std::chrono::duration<double>(times_.back() - times_.front()).count();
    return span > 0 ? static_cast<double>(times_.size() - 1) / span : 0;
  }
  void reset() { times_.clear(); }

 private:
  double window_;
  std::deque<Clock::time_point> times_;
};

}  // namespace distrvit::media
