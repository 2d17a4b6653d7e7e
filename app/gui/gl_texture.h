// An RGB8 image as an OpenGL texture that ImGui can draw.
#pragma once
#include <cstdint>

#include <imgui.h>

#include "distrvit/image.h"

namespace distrvit::gui {

class GlTexture {
 public:
  GlTexture() = default;
  ~GlTexture();
  GlTexture(const GlTexture&) = delete;
  GlTexture& operator=(const GlTexture&) = delete;

  void upload(const ImageU8& image);  // (re)allocates when the size changes
  bool empty() const { return id_ == 0; }
  ImTextureID imgui_id() const { return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id_)); }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  unsigned int id_ = 0;
  int width_ = 0;
  int height_ = 0;
};

}  // namespace distrvit::gui
