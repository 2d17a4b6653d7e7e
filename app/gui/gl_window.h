// One GLFW window with an OpenGL 3 context and Dear ImGui on it.
#pragma once
#include <string>
#include <vector>

#include "distrvit/image.h"

struct GLFWwindow;

namespace distrvit::gui {

class GlWindow {
 public:
  // Throws Error("window: ...") when no display or no OpenGL 3.3 context is available.
  GlWindow(const std::string& title, int width, int height);
  ~GlWindow();
  GlWindow(const GlWindow&) = delete;
  GlWindow& operator=(const GlWindow&) = delete;

  bool should_close() const;
  void request_close();
  // Waits for input for at most `seconds` (so an idle UI does not spin), then starts an ImGui frame.
  void begin_frame(double seconds);
  void end_frame();         // renders ImGui into the back buffer
  void present();           // swaps buffers
  ImageU8 read_pixels() const;  // the back buffer as rendered by end_frame(), top row first
  std::vector<std::string> take_dropped_paths();
  std::string renderer() const;  // "llvmpipe (LLVM 15.0.6, 256 bits), OpenGL 4.5 ..."

 private:
  GLFWwindow* window_ = nullptr;
  std::vector<std::string> dropped_;
};

}  // namespace distrvit::gui
