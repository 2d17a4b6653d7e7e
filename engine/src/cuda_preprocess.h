// Internal: the CUDA engine's batched image preprocessing (kernels/preprocess.cu). Each image is planned on the host
// by the CPU path's own code (resize_crop_plan.h, resize_coefficients.h); its descriptor, filter tables and only the
// input pixels the resize reads are staged in a pinned buffer that grows as needed, uploaded in one copy, and both
// passes run on the caller's stream.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "distrvit/image.h"
#include "distrvit/preprocess.h"
#include "preprocess.h"

namespace distrvit {

class CudaImagePreprocessor {
 public:
  explicit CudaImagePreprocessor(int threads);  // host threads for planning and staging; 0 = all cores
  ~CudaImagePreprocessor();
  CudaImagePreprocessor(const CudaImagePreprocessor&) = delete;
  CudaImagePreprocessor& operator=(const CudaImagePreprocessor&) = delete;

  // Plans `images` for the input [3, config.input_height, config.input_width] and stages them, after waiting for
  // the previous enqueue to finish. Throws Error naming the image's index for an invalid image or config.
  void stage(const std::vector<const ImageU8*>& images, const PreprocessConfig& config);

  // On `stream`: the upload of the staged batch, then both passes into out [B, 3, H, W] (B = staged_batch()).
  // May be enqueued again for the same staged batch.
  void enqueue(float* out, cudaStream_t stream);

  int staged_batch() const { return batch_.batch; }
  size_t staged_bytes() const { return staged_bytes_; }  // of the last stage(): what one enqueue uploads

 private:
  void reserve(size_t staged_bytes, size_t intermediate_bytes);

  int threads_;
  cuda::PreprocessBatch batch_;  // pointers set by enqueue
  size_t staged_bytes_ = 0;
  uint8_t* host_ = nullptr;          // pinned staging: [images] descriptors, filter tables, source pixels
  uint8_t* device_ = nullptr;        // its device copy
  size_t staging_capacity_ = 0;      // of host_ and device_
  uint8_t* intermediate_ = nullptr;  // device scratch of the horizontal pass
  size_t intermediate_capacity_ = 0;
  cudaEvent_t finished_ = nullptr;   // after the last enqueue's kernels
};

}  // namespace distrvit
