// Patch embedding, step 1: im2col. The convolution (kernel = stride = patch) becomes a GEMM of the
// unfolded patches with patch_w viewed as [E, C*P*P] (gemm_cublaslt.h), bias in the epilogue.
// CPU reference: patch_embed_cpu in distrvit/ops_cpu.h (im2col + GEMM end to end);
// tested in tests/gpu/test_ops_gpu.cpp ("patch_embed").
#pragma once
#include <cuda_runtime.h>

#include "attention_cuda.h"  // DataType

namespace distrvit::cuda {

// image [B, C, H, W] float32 -> cols [B * gh * gw, C * P * P] of `dtype`, gh = H / P, gw = W / P;
// column index c * P * P + ky * P + kx (the order of patch_w [E, C, P, P]); rows in raster patch order.
void im2col_patches(const float* image, void* cols, DataType dtype, int batch, int channels, int height, int width,
                    int patch, cudaStream_t stream);

}  // namespace distrvit::cuda
