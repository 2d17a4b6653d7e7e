#include "gl_window.h"

#include <algorithm>

#define GLFW_INCLUDE_NONE
#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include "distrvit/error.h"

namespace distrvit::gui {
namespace {

std::string last_glfw_error;

void remember_glfw_error(int /*code*/, const char* description) { last_glfw_error = description ? description : "?"; }

void on_drop(GLFWwindow* window, int count, const char** paths) {
  auto* self = static_cast<std::vector<std::string>*>(glfwGetWindowUserPointer(window));
  for (int i = 0; i < count; ++i) self->push_back(paths[i]);
}

}  // namespace

GlWindow::GlWindow(const std::string& title, int width, int height) {
  glfwSetErrorCallback(remember_glfw_error);
  if (!glfwInit()) fail("window", "cannot start GLFW: {} (no display? run under xvfb-run)", last_glfw_error);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  window_ = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
  if (!window_) {
    glfwTerminate();
    fail("window", "cannot create a {}x{} window with OpenGL 3.3: {}", width, height, last_glfw_error);
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(1);
  glfwSetWindowUserPointer(window_, &dropped_);
  glfwSetDropCallback(window_, on_drop);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed from the window size, nothing to save
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(window_, true);
  ImGui_ImplOpenGL3_Init("#version 330");
}

GlWindow::~GlWindow() {
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window_);
  glfwTerminate();
}

bool GlWindow::should_close() const { return glfwWindowShouldClose(window_); }

void GlWindow::request_close() { glfwSetWindowShouldClose(window_, GLFW_TRUE); }

void GlWindow::begin_frame(double seconds) {
  if (seconds > 0) glfwWaitEventsTimeout(seconds);
  else glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
}

void GlWindow::end_frame() {
  ImGui::Render();
  int width = 0, height = 0;
  glfwGetFramebufferSize(window_, &width, &height);
  glViewport(0, 0, width, height);
  glClearColor(0.08f, 0.08f, 0.09f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

void GlWindow::present() { glfwSwapBuffers(window_); }

ImageU8 GlWindow::read_pixels() const {
  ImageU8 image;
  glfwGetFramebufferSize(window_, &image.width, &image.height);
  std::vector<uint8_t> bottom_up(static_cast<size_t>(image.width) * image.height * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, image.width, image.height, GL_RGB, GL_UNSIGNED_BYTE, bottom_up.data());
  image.rgb.resize(bottom_up.size());
  const size_t row = static_cast<size_t>(image.width) * 3;
  for (int y = 0; y < image.height; ++y) {
    std::copy_n(bottom_up.data() + (image.height - 1 - y) * row, row, image.rgb.data() + y * row);
  }
  return image;
}

std::vector<std::string> GlWindow::take_dropped_paths() {
  std::vector<std::string> paths;
  paths.swap(dropped_);
  return paths;
}

std::string GlWindow::renderer() const {
  const auto* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  const auto* version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
  return std::string(renderer ? renderer : "?") + ", OpenGL " + (version ? version : "?");
}

}  // namespace distrvit::gui
