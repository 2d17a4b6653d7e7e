// Every classified frame, in brief, handed from the inference thread to the UI thread.
// (The UI draws only the newest result; plots and script steps need all of them.)
#pragma once
#include <mutex>
#include <string>
#include <vector>

#include "frame_result.h"

namespace distrvit::gui {

struct LoggedResult {
  int64_t sequence = 0;
  uint64_t config_version = 0;
  bool reprocessed = false;
  media::FrameTiming timing;
  double fps = 0;
  std::string attention;
  media::RankedClass top1;
};

class ResultLog {
 public:
  void add(const media::FrameResult& result) {
    LoggedResult entry;
    entry.sequence = result.sequence;
    entry.config_version = result.config_version;
    entry.reprocessed = result.reprocessed;
    entry.timing = result.timing;
    entry.fps = result.fps;
    entry.attention = result.attention;
    if (!result.top5.empty()) entry.top1 = result.top5.front();
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(entry));
  }
  std::vector<LoggedResult> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<LoggedResult> taken;
    taken.swap(pending_);
    return taken;
  }

 private:
  std::mutex mutex_;
  std::vector<LoggedResult> pending_;
};

}  // namespace distrvit::gui
