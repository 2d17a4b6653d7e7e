#include "cuda_preprocess.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "cuda_check.h"
#include "distrvit/error.h"
#include "parallel_for.h"
#include "resize_coefficients.h"
#include "resize_crop_plan.h"

namespace distrvit {
namespace {

static_assert(cuda::kPreprocessPrecisionBits == kResizePrecisionBits, "the kernels apply the CPU resampler's tables");
static_assert(sizeof(int) == sizeof(int32_t), "tables are uploaded as int32");

constexpr int kChannels = 3;
constexpr size_t kAlign = 16;
constexpr size_t kStagedBytesPerThread = size_t(1) << 20;  // below this a memcpy is not worth a thread
constexpr size_t kPlansPerThread = 8;

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct ImagePlan {
  ResizeCropPlan crop;
  SeparableResize resize;
};

// int32 first[n], count[n], weights[n, taps] (the layout of kernels/preprocess.h).
size_t table_bytes(const AxisKernel& kernel) {
  return align_up(sizeof(int32_t) * (2 * kernel.first.size() + kernel.weights.size()));
}

void write_table(const AxisKernel& kernel, uint8_t* at) {
  int32_t* out = reinterpret_cast<int32_t*>(at);
  out = std::copy(kernel.first.begin(), kernel.first.end(), out);
  out = std::copy(kernel.count.begin(), kernel.count.end(), out);
  std::copy(kernel.weights.begin(), kernel.weights.end(), out);
}

size_t source_bytes(const PixelWindow& source) { return size_t(source.width) * size_t(source.height) * kChannels; }

// The pixels of `image` inside `source`, as rows of source.width pixels.
void copy_source(const ImageU8& image, const PixelWindow& source, uint8_t* out) {
  const size_t row_bytes = size_t(source.width) * kChannels;
  for (int y = 0; y < source.height; ++y) {
    const size_t from = (size_t(source.top + y) * size_t(image.width) + size_t(source.left)) * kChannels;
    std::memcpy(out + size_t(y) * row_bytes, image.rgb.data() + from, row_bytes);
  }
}

ImagePlan plan_image(const ImageU8* image, size_t index, const PreprocessConfig& config) {
  if (!image) fail(fmt::format("images[{}]", index), "null image");
  try {
    ImagePlan plan;
    plan.crop = plan_resize_and_crop(*image, config);
    plan.resize = plan_separable_resize(image->width, image->height, plan.crop.resized_width,
                                        plan.crop.resized_height, plan.crop.interpolation, plan.crop.visible);
    return plan;
  } catch (const Error& error) {
    throw Error(fmt::format("images[{}]: {}", index, error.what()));
  }
}

}  // namespace

CudaImagePreprocessor::CudaImagePreprocessor(int threads)
    : threads_(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()))) {
  CUDA_CHECK(cudaEventCreateWithFlags(&finished_, cudaEventDisableTiming));
}

CudaImagePreprocessor::~CudaImagePreprocessor() {
  if (finished_) cudaEventSynchronize(finished_);
  if (host_) cudaFreeHost(host_);
  if (device_) cudaFree(device_);
  if (intermediate_) cudaFree(intermediate_);
  if (finished_) cudaEventDestroy(finished_);
}

void CudaImagePreprocessor::reserve(size_t staged_bytes, size_t intermediate_bytes) {
  if (staged_bytes > staging_capacity_) {
    if (host_) CUDA_CHECK(cudaFreeHost(host_));
    if (device_) CUDA_CHECK(cudaFree(device_));
    host_ = device_ = nullptr;
    staging_capacity_ = 0;
    const size_t capacity = align_up(staged_bytes + staged_bytes / 4);  // headroom for the next batches' sizes
    CUDA_CHECK(cudaMallocHost(&host_, capacity));
    CUDA_CHECK(cudaMalloc(&device_, capacity));
    staging_capacity_ = capacity;
  }
  if (intermediate_bytes > intermediate_capacity_) {
    if (intermediate_) CUDA_CHECK(cudaFree(intermediate_));
    intermediate_ = nullptr;
    intermediate_capacity_ = 0;
    const size_t capacity = align_up(intermediate_bytes + intermediate_bytes / 4);
    CUDA_CHECK(cudaMalloc(&intermediate_, capacity));
    intermediate_capacity_ = capacity;
  }
}

void CudaImagePreprocessor::stage(const std::vector<const ImageU8*>& images, const PreprocessConfig& config) {
  CUDA_CHECK(cudaEventSynchronize(finished_));  // the previous upload has read the staging buffer
  batch_ = cuda::PreprocessBatch{};
  staged_bytes_ = 0;
  const size_t count = images.size();
  if (count == 0) throw Error("forward_images: no images");
  if (count > size_t(cuda::kMaxPreprocessBatch)) {
    fail("forward_images", "{} images, at most {} per batch on cuda", count, cuda::kMaxPreprocessBatch);
  }

  std::vector<ImagePlan> plans(count);
  const int plan_threads = int(std::min<size_t>(size_t(threads_), (count + kPlansPerThread - 1) / kPlansPerThread));
  parallel_for(count, plan_threads, [&](size_t i) { plans[i] = plan_image(images[i], i, config); });

  // Layout: descriptors, then every image's two tables, then every image's source pixels.
  std::vector<cuda::PreprocessImage> descriptors(count);
  size_t staged = align_up(count * sizeof(cuda::PreprocessImage));
  size_t intermediate = 0;
  int64_t max_intermediate_pixels = 0;
  for (size_t i = 0; i < count; ++i) {
    const SeparableResize& resize = plans[i].resize;
    const ResizeCropPlan& crop = plans[i].crop;
    cuda::PreprocessImage& d = descriptors[i];
    d.horizontal = int64_t(staged);
    staged += table_bytes(resize.horizontal);
    d.vertical = int64_t(staged);
    staged += table_bytes(resize.vertical);
    d.source_width = resize.source.width;
    d.source_height = resize.source.height;
    d.horizontal_taps = resize.horizontal.taps;
    d.vertical_taps = resize.vertical.taps;
    d.visible_width = resize.window.width;
    d.visible_height = resize.window.height;
    d.paste_left = crop.paste_left;
    d.paste_top = crop.paste_top;
    std::copy(crop.fill.begin(), crop.fill.end(), d.fill);
    const int64_t intermediate_pixels = int64_t(resize.source.height) * resize.window.width;
    d.intermediate = int64_t(intermediate);
    intermediate += align_up(size_t(intermediate_pixels) * kChannels);
    max_intermediate_pixels = std::max(max_intermediate_pixels, intermediate_pixels);
  }
  for (size_t i = 0; i < count; ++i) {
    descriptors[i].pixels = int64_t(staged);
    staged += align_up(source_bytes(plans[i].resize.source));
  }
  reserve(staged, intermediate);

  std::memcpy(host_, descriptors.data(), count * sizeof(cuda::PreprocessImage));
  const int copy_threads = int(std::clamp<size_t>(staged / kStagedBytesPerThread, 1, size_t(threads_)));
  parallel_for(count, copy_threads, [&](size_t i) {
    const SeparableResize& resize = plans[i].resize;
    write_table(resize.horizontal, host_ + descriptors[i].horizontal);
    write_table(resize.vertical, host_ + descriptors[i].vertical);
    copy_source(*images[i], resize.source, host_ + descriptors[i].pixels);
  });

  staged_bytes_ = staged;
  batch_.batch = int(count);
  batch_.height = config.input_height;
  batch_.width = config.input_width;
  batch_.max_intermediate_pixels = max_intermediate_pixels;
  for (int c = 0; c < kChannels; ++c) {
    batch_.mean[c] = config.mean[size_t(c)];
    batch_.std[c] = config.std[size_t(c)];
  }
}

void CudaImagePreprocessor::enqueue(float* out, cudaStream_t stream) {
  if (batch_.batch == 0) throw Error("GPU preprocessing: nothing staged");
  CUDA_CHECK(cudaMemcpyAsync(device_, host_, staged_bytes_, cudaMemcpyHostToDevice, stream));
  batch_.uploaded = device_;
  batch_.images = reinterpret_cast<const cuda::PreprocessImage*>(device_);
  batch_.intermediate = intermediate_;
  batch_.out = out;
  cuda::preprocess_images(batch_, stream);
  CUDA_CHECK(cudaEventRecord(finished_, stream));
}

}  // namespace distrvit
