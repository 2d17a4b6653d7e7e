#include "cpu_features.h"

#if defined(DISTRVIT_X86_FEATURES)
#include <cpuid.h>

#include <cstdlib>
#include <string>

namespace distrvit {
namespace {

// clang 14's __builtin_cpu_supports knows "avx" / "avx2" (which include the OS saving ymm state) but not "f16c"
// or "fma": those come from cpuid leaf 1, ecx.
bool leaf1_ecx_has(unsigned bit) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit) != 0;
}

// DISTRVIT_PORTABLE_CPU=1: the loops written for any x86-64, as on a CPU without AVX, for testing them.
bool portable_loops_forced() {
  const char* value = std::getenv("DISTRVIT_PORTABLE_CPU");
  return value && *value && std::string(value) != "0";
}

}  // namespace

bool cpu_has_avx_f16c() {
  static const bool has = __builtin_cpu_supports("avx") && leaf1_ecx_has(bit_F16C) && !portable_loops_forced();
  return has;
}

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && leaf1_ecx_has(bit_FMA) && !portable_loops_forced();
  return has;
}

}  // namespace distrvit
#endif
