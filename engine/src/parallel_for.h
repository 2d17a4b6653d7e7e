// Internal: a loop over independent items spread over a few threads, for the per-image work of batches.
#pragma once
#include <cstddef>
#include <functional>

namespace distrvit {

// Runs body(i) for every i in [0, count) on up to `threads` threads, the caller's included (0 = all cores).
// The first exception thrown by a body skips the items not yet started and is rethrown here.
void parallel_for(size_t count, int threads, const std::function<void(size_t)>& body);

}  // namespace distrvit
