// Writing small text outputs (JSON, CSV, SVG) atomically: temp file in the same folder, then rename.
#pragma once
#include <string>

namespace distrvit {

void write_text_file(const std::string& path, const std::string& text);

}  // namespace distrvit
