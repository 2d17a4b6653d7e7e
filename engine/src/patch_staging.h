// Internal: the input of the GPU forward laid out on the host, so that it uploads as the patch-embedding
// product's left operand in the working precision (half the bytes of float32 in fp16 / bf16, and no im2col pass
// on the device).
#pragma once
#include "distrvit/engine.h"  // Precision

namespace distrvit {

// images [B, C, H, W] float32 -> cols [B * gh * gw, C * P * P] of `precision` (gh = H / P, gw = W / P; column
// c * P * P + ky * P + kx, rows in raster patch order: cuda::im2col_patches' layout). 16-bit values are rounded to
// nearest even, as the device conversion rounds them. Patch rows are spread over up to `threads` threads (0 = all
// cores).
void stage_patches(const float* images, void* cols, Precision precision, int batch, int channels, int height,
                   int width, int patch, int threads);

}  // namespace distrvit
