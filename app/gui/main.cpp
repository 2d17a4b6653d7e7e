// distrvit-gui: live Vision Transformer classification with exact and approximate attention side by side.
#include <cstdio>

#include "distrvit/error.h"
#include "gui_app.h"

int main(int argc, char** argv) {
  distrvit::gui::GuiOptions options;
  if (const auto exit_code = distrvit::gui::parse_gui_options(argc, argv, options)) return *exit_code;
  try {
    distrvit::gui::GuiApp app(std::move(options));
    return app.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distrvit-gui: %s\n", e.what());
    return 1;
  }
}
