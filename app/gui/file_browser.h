// A small ImGui file dialog (ImGui has none): browse folders, pick a file or the folder itself.
#pragma once
#include <string>
#include <vector>

namespace distrvit::gui {

class FileBrowser {
 public:
  enum class Purpose { Source, Model, SweepFolder };

  void open(Purpose purpose, const std::string& start);
  // Draws the dialog while it is open. Returns true once when the user picked something: `picked()`
  // is then a file, or the folder when the user chose the folder itself.
  bool draw();
  Purpose purpose() const { return purpose_; }
  const std::string& picked() const { return picked_; }

 private:
  void list_folder();

  Purpose purpose_ = Purpose::Source;
  bool opening_ = false;
  std::string folder_;
  std::string selected_;
  std::string picked_;
  std::string error_;
  std::vector<std::string> folders_;
  std::vector<std::string> files_;
};

}  // namespace distrvit::gui
