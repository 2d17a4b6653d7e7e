// Tensor maps for the TMA-fed attention kernels (tma.cuh). The driver's encoder is reached through the runtime's
// entry-point lookup, so nothing links against libcuda.
#include "tma.cuh"

#include <cudaTypedefs.h>

#include <string>

namespace distrvit::cuda::tma {
namespace {

PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult found{};
    CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess || !ptr)
      throw_status("CUDA driver", "cuTensorMapEncodeTiled not found", "cudaGetDriverEntryPointByVersion", __FILE__,
                   __LINE__);
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(ptr);
  }();
  return fn;
}

}  // namespace

bool encode_view(CUtensorMap& map, bool bf16, const void* base, int head_dim, int tokens, int heads, int batch,
                 int64_t token_stride, int64_t head_stride, int64_t batch_stride, int box_rows) {
  constexpr int64_t kElem = 2;
  const auto aligned16 = [](int64_t bytes) { return bytes % 16 == 0 && bytes > 0 && bytes < (int64_t(1) << 40); };
  if (reinterpret_cast<uintptr_t>(base) % 16 != 0 || head_dim % 64 != 0 || box_rows < 1 || box_rows > 256)
    return false;
  // A stride of a size-1 dimension is never used; give it a legal value.
  if (heads == 1) head_stride = token_stride * tokens;
  if (batch == 1) batch_stride = head_stride * heads;
  if (!aligned16(token_stride * kElem) || !aligned16(head_stride * kElem) || !aligned16(batch_stride * kElem))
    return false;
  const cuuint64_t dims[4] = {cuuint64_t(head_dim), cuuint64_t(tokens), cuuint64_t(heads), cuuint64_t(batch)};
  const cuuint64_t strides[3] = {cuuint64_t(token_stride * kElem), cuuint64_t(head_stride * kElem),
                                 cuuint64_t(batch_stride * kElem)};
  const cuuint32_t box[4] = {64, cuuint32_t(box_rows), 1, 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUresult status =
      encoder()(&map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 4,
                const_cast<void*>(base), dims, strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (status != CUDA_SUCCESS)
    throw_status("CUDA driver", "CUresult " + std::to_string(int(status)), "cuTensorMapEncodeTiled", __FILE__,
                 __LINE__);
  return true;
}

}  // namespace distrvit::cuda::tma
