// doctest main of the GPU tests. ctest runs each test case on its own (--test-case=NAME); on a machine
// without a CUDA device (or a build without CUDA) every such run prints
//   SKIPPED (no CUDA device): NAME
// and exits with 77, which ctest reports as skipped (SKIP_RETURN_CODE 77). Listing the test cases
// (ctest's discovery) works everywhere.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <string>

#if DISTRVIT_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace {

int cuda_device_count() {
#if DISTRVIT_WITH_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return 0;
  return count;
#else
  return 0;
#endif
}

bool starts_with(const char* s, const char* prefix) { return std::strncmp(s, prefix, std::strlen(prefix)) == 0; }

// Options that only print (list, count, help, version) need no device.
bool only_lists(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    for (const char* opt : {"--list", "-ltc", "-lts", "-lr", "--count", "-c", "--help", "-h", "-?", "--version",
                            "-v", "--dt-list", "--dt-count", "--dt-help", "--dt-version"})
      if (std::strcmp(a, opt) == 0 || (starts_with(a, opt) && std::strlen(opt) > 3 && starts_with(opt, "--")))
        return true;
  }
  return false;
}

// The value of --test-case=NAME / -tc=NAME, with doctest's "\," escapes undone; "*" when none.
std::string requested_case(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const char* opt : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="}) {
      if (!starts_with(argv[i], opt)) continue;
      std::string name = argv[i] + std::strlen(opt), out;
      for (size_t k = 0; k < name.size(); ++k) {
        if (name[k] == '\\' && k + 1 < name.size() && name[k + 1] == ',') continue;
        out += name[k];
      }
      return out;
    }
  }
  return "*";
}

}  // namespace

int main(int argc, char** argv) {
  if (!only_lists(argc, argv) && cuda_device_count() == 0) {
    std::printf("SKIPPED (no CUDA device): %s\n", requested_case(argc, argv).c_str());
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
