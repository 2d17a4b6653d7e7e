// The file dialog's state and actions (ImGui has none): browse folders, select a file, pick it or the folder itself.
// draw_file_browser() (panels.h) only maps widgets onto these actions, so unit tests and --script steps drive the
// same code as clicks do. No ImGui here.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace distrvit::gui {

class FileBrowser {
 public:
  enum class Purpose { Source, Model, SweepFolder };

  // Opens at `start`, a folder or a file's folder (the current folder when neither exists).
  void open(Purpose purpose, const std::string& start);
  bool is_open() const { return open_; }
  Purpose purpose() const { return purpose_; }

  const std::string& folder() const { return folder_; }  // absolute
  const std::vector<std::string>& folders() const { return folders_; }  // sub-folder names, sorted, no hidden ones
  const std::vector<std::string>& files() const { return files_; }      // names of files `purpose` can open, sorted
  std::string selected() const;                                         // path of the selected file, or ""
  bool is_selected(const std::string& name) const { return !name.empty() && name == selected_; }
  const std::string& error() const { return error_; }                   // why `folder` cannot be listed, or ""
  bool picks_files() const { return purpose_ != Purpose::SweepFolder; }

  void go_to(const std::string& folder);  // any folder, e.g. typed
  void enter(const std::string& name);    // one of folders()
  void go_up();
  bool select(const std::string& name);   // one of files(); false, selecting nothing, for any other name
  bool pick_file();                       // the selected file; false when none is
  bool pick_folder();                     // the folder shown; false when it cannot be listed
  void cancel();

  // What was picked, once, after pick_file() or pick_folder() closed the dialog.
  std::optional<std::string> take_picked();

 private:
  void pick(const std::string& path);

  Purpose purpose_ = Purpose::Source;
  bool open_ = false;
  std::string folder_;
  std::vector<std::string> folders_;
  std::vector<std::string> files_;
  std::string selected_;  // a name in files_
  std::string error_;
  std::optional<std::string> picked_;
};

}  // namespace distrvit::gui
