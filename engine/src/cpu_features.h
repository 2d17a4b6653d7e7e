// Run-time checks for the x86-64 instructions that hand-picked loops use (GCC / clang, x86-64 only): each true
// when both the CPU and the OS (ymm state saved) support them, and DISTRVIT_PORTABLE_CPU is not set (it makes the
// portable loops run, to test them on any machine).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DISTRVIT_X86_FEATURES 1

namespace distrvit {

bool cpu_has_avx_f16c();  // AVX + F16C: vcvtps2ph
bool cpu_has_avx2_fma();  // AVX2 + FMA3: vfmadd

}  // namespace distrvit
#endif
