// Internal: where files that ship with distrvit (assets/, models/) are found at run time.
#pragma once
#include <filesystem>
#include <vector>

namespace distrvit {

// In order: $<env_var>; beside an installed binary, <exe>/../share/distrvit/<installed>; beside a build tree's
// binary, <exe>/../../<source>; the source tree this was built from, <DISTRVIT_SOURCE_DIR>/<source>. Each once,
// lexically normal.
std::vector<std::filesystem::path> data_folder_candidates(const char* env_var, const std::filesystem::path& installed,
                                                          const std::filesystem::path& source);

}  // namespace distrvit
