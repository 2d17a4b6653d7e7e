// xdnd_drop: drops files onto an X11 window the way a file manager does, for GUI tests. It is an XDND source
// (freedesktop.org "Drag-and-Drop Protocol for the X Window System", version 5) offering text/uri-list:
//
//   xdnd_drop [--title TEXT | --window ID] [--timeout SECONDS] PATH...
//
// Waits for the target window (by title, until it exists and is XDND-aware), owns XdndSelection, sends XdndEnter
// and an XdndPosition at the window's centre, waits for XdndStatus, sends XdndDrop, serves the file:// URIs of
// PATH... when the target converts the selection, and waits for XdndFinished.
// Exit status: 0 the target took the files, 1 refused / X error / timeout (one line on stderr), 2 bad usage.
#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr long kXdndVersion = 5;

struct Options {
  std::string title = "distrvit";
  Window window = None;  // --window: use this one instead of searching by title
  double timeout_s = 60;
  std::vector<std::string> paths;
};

struct Atoms {
  explicit Atoms(Display* display) {
    const auto atom = [display](const char* name) { return XInternAtom(display, name, False); };
    aware = atom("XdndAware");
    proxy = atom("XdndProxy");
    enter = atom("XdndEnter");
    position = atom("XdndPosition");
    status = atom("XdndStatus");
    leave = atom("XdndLeave");
    drop = atom("XdndDrop");
    finished = atom("XdndFinished");
    selection = atom("XdndSelection");
    action_copy = atom("XdndActionCopy");
    uri_list = atom("text/uri-list");
    targets = atom("TARGETS");
    net_wm_name = atom("_NET_WM_NAME");
    utf8_string = atom("UTF8_STRING");
    timestamp = atom("XDND_DROP_TIMESTAMP");
  }
  Atom aware, proxy, enter, position, status, leave, drop, finished, selection, action_copy, uri_list, targets,
      net_wm_name, utf8_string, timestamp;
};

// The drop target: its window, where messages go (its XdndProxy, else itself), and the XDND version both speak.
struct Target {
  Window window = None;
  Window receiver = None;
  long version = 0;
};

[[noreturn]] void fail(const std::string& message, int exit_code = 1) {
  std::fprintf(stderr, "xdnd_drop: %s\n", message.c_str());
  std::exit(exit_code);
}

std::string hex(unsigned long id) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%lx", id);
  return text;
}

// X errors are expected while searching (windows come and go) and fatal once the drop has started.
std::string last_x_error;
int remember_x_error(Display* display, XErrorEvent* event) {
  char text[256];
  XGetErrorText(display, event->error_code, text, sizeof text);
  last_x_error = std::string(text) + " (request " + std::to_string(event->request_code) + ")";
  return 0;
}

void check_no_x_error(Display* display, const std::string& doing) {
  XSync(display, False);
  if (!last_x_error.empty()) fail(doing + ": X error: " + last_x_error);
}

Options parse_options(int argc, char** argv) {
  Options options;
  const std::string usage = "usage: xdnd_drop [--title TEXT | --window ID] [--timeout SECONDS] PATH...";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--title" && has_value) options.title = argv[++i];
    else if (arg == "--window" && has_value) options.window = std::strtoul(argv[++i], nullptr, 0);
    else if (arg == "--timeout" && has_value) options.timeout_s = std::atof(argv[++i]);
    else if (arg == "--help") fail(usage, 2);
    else if (arg.rfind("--", 0) == 0) fail("unknown or incomplete option '" + arg + "'\n" + usage, 2);
    else options.paths.push_back(arg);
  }
  if (options.paths.empty()) fail("no paths to drop\n" + usage, 2);
  if (options.timeout_s <= 0) fail("--timeout needs seconds above 0", 2);
  return options;
}

// file:///absolute/path with every byte outside the URI "unreserved" set and '/' percent-encoded.
std::string file_uri(const std::string& path) {
  const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
  std::string uri = "file://";
  for (const unsigned char c : absolute) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      uri += static_cast<char>(c);
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", c);
      uri += escaped;
    }
  }
  return uri;
}

std::string uri_list(const std::vector<std::string>& paths) {
  std::string list;
  for (const std::string& path : paths) list += file_uri(path) + "\r\n";
  return list;
}

// One property of `window` as raw items; empty when it is missing or of another type.
std::vector<unsigned char> read_property(Display* display, Window window, Atom property, Atom type) {
  Atom actual_type = None;
  int format = 0;
  unsigned long items = 0, bytes_after = 0;
  unsigned char* data = nullptr;
  std::vector<unsigned char> bytes;
  if (XGetWindowProperty(display, window, property, 0, 4096, False, type, &actual_type, &format, &items,
                         &bytes_after, &data) == Success && data && actual_type == type) {
    const size_t item_size = format == 32 ? sizeof(long) : format / 8;
    bytes.assign(data, data + items * item_size);
  }
  if (data) XFree(data);
  return bytes;
}

long first_long(const std::vector<unsigned char>& bytes) {
  long value = 0;
  if (bytes.size() >= sizeof value) std::copy_n(bytes.data(), sizeof value, reinterpret_cast<unsigned char*>(&value));
  return value;
}

std::string window_title(Display* display, Window window, const Atoms& atoms) {
  const std::vector<unsigned char> utf8 = read_property(display, window, atoms.net_wm_name, atoms.utf8_string);
  if (!utf8.empty()) return std::string(utf8.begin(), utf8.end());
  const std::vector<unsigned char> latin1 = read_property(display, window, XA_WM_NAME, XA_STRING);
  return std::string(latin1.begin(), latin1.end());
}

Window find_by_title(Display* display, Window window, const std::string& title, const Atoms& atoms) {
  if (window != DefaultRootWindow(display) && window_title(display, window, atoms) == title) return window;
  Window root = None, parent = None, *children = nullptr;
  unsigned int count = 0;
  if (!XQueryTree(display, window, &root, &parent, &children, &count)) return None;
  Window found = None;
  for (unsigned int i = 0; i < count && found == None; ++i) found = find_by_title(display, children[i], title, atoms);
  if (children) XFree(children);
  return found;
}

// Where the messages for `window` go: its XdndProxy when that proxy names itself as XdndProxy too, else itself.
Window receiver_of(Display* display, Window window, const Atoms& atoms) {
  const Window proxy = first_long(read_property(display, window, atoms.proxy, XA_WINDOW));
  if (proxy == None) return window;
  const Window confirmed = first_long(read_property(display, proxy, atoms.proxy, XA_WINDOW));
  return confirmed == proxy ? proxy : window;
}

// The target once it exists and says which XDND version it speaks (XdndAware); waits until `deadline`.
Target wait_for_target(Display* display, const Options& options, const Atoms& atoms, Clock::time_point deadline) {
  const Window root = DefaultRootWindow(display);
  bool found = false;
  while (Clock::now() < deadline) {
    Target target;
    target.window = options.window != None ? options.window : find_by_title(display, root, options.title, atoms);
    if (target.window != None) {
      target.version = first_long(read_property(display, target.window, atoms.aware, XA_ATOM));
      target.receiver = receiver_of(display, target.window, atoms);
    }
    XSync(display, False);
    const bool exists = target.window != None && last_x_error.empty();
    last_x_error.clear();
    found |= exists;
    if (exists && target.version >= 1) {
      target.version = std::min(target.version, kXdndVersion);
      return target;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string wanted =
      options.window != None ? "window " + hex(options.window) : "a window titled '" + options.title + "'";
  fail("timed out after " + std::to_string(static_cast<int>(options.timeout_s)) + " s waiting for " + wanted +
       (found ? " to become XDND-aware (no XdndAware property)" : " to appear"));
}

// A server timestamp (ICCCM: selections must not be owned at CurrentTime): the time of a property change.
Time server_time(Display* display, Window window, const Atoms& atoms) {
  XChangeProperty(display, window, atoms.timestamp, XA_INTEGER, 32, PropModeAppend, nullptr, 0);
  XEvent event;
  XWindowEvent(display, window, PropertyChangeMask, &event);
  return event.xproperty.time;
}

void send_message(Display* display, const Target& target, Atom type, long l0, long l1, long l2, long l3, long l4) {
  XEvent event{};
  event.xclient.type = ClientMessage;
  event.xclient.display = display;
  event.xclient.window = target.window;
  event.xclient.message_type = type;
  event.xclient.format = 32;
  const long data[5] = {l0, l1, l2, l3, l4};
  std::copy_n(data, 5, event.xclient.data.l);
  XSendEvent(display, target.receiver, False, NoEventMask, &event);
  XFlush(display);
}

// Answers a conversion of XdndSelection: the URI list as text/uri-list, or the TARGETS offered; anything else is
// refused (property None). Returns true when the URI list was handed over.
bool answer_selection_request(Display* display, const XSelectionRequestEvent& request, const Atoms& atoms,
                              const std::string& uris) {
  XEvent reply{};
  reply.xselection.type = SelectionNotify;
  reply.xselection.display = display;
  reply.xselection.requestor = request.requestor;
  reply.xselection.selection = request.selection;
  reply.xselection.target = request.target;
  reply.xselection.time = request.time;
  reply.xselection.property = None;
  const Atom property = request.property != None ? request.property : request.target;  // obsolete requestors
  bool handed_over = false;
  if (request.selection == atoms.selection && request.target == atoms.uri_list) {
    XChangeProperty(display, request.requestor, property, atoms.uri_list, 8, PropModeReplace,
                    reinterpret_cast<const unsigned char*>(uris.data()), static_cast<int>(uris.size()));
    reply.xselection.property = property;
    handed_over = true;
  } else if (request.selection == atoms.selection && request.target == atoms.targets) {
    const Atom offered[] = {atoms.targets, atoms.uri_list};
    XChangeProperty(display, request.requestor, property, XA_ATOM, 32, PropModeReplace,
                    reinterpret_cast<const unsigned char*>(offered), 2);
    reply.xselection.property = property;
  }
  XSendEvent(display, request.requestor, False, NoEventMask, &reply);
  XFlush(display);
  return handed_over;
}

// The next X event, or false at `deadline`.
bool next_event(Display* display, XEvent& event, Clock::time_point deadline) {
  while (!XPending(display)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd connection = {ConnectionNumber(display), POLLIN, 0};
    poll(&connection, 1, static_cast<int>(std::min<long long>(left, 100)));
  }
  XNextEvent(display, &event);
  return true;
}

// XdndEnter and one XdndPosition at the centre of the target (root coordinates), offering a copy.
void enter_and_hover(Display* display, const Target& target, Window source, Time time, const Atoms& atoms) {
  XWindowAttributes attributes;
  if (!XGetWindowAttributes(display, target.window, &attributes)) fail("window " + hex(target.window) + " vanished");
  int x = 0, y = 0;
  Window child = None;
  XTranslateCoordinates(display, target.window, DefaultRootWindow(display), attributes.width / 2,
                        attributes.height / 2, &x, &y, &child);
  // Version in the high byte of l[1]; bit 0 clear: the types are l[2..4], there is no XdndTypeList.
  send_message(display, target, atoms.enter, source, target.version << 24, atoms.uri_list, None, None);
  send_message(display, target, atoms.position, source, 0, (static_cast<long>(x) << 16) | (y & 0xffff), time,
               atoms.action_copy);
  check_no_x_error(display, "sending XdndEnter and XdndPosition to " + hex(target.receiver));
}

// XdndStatus -> XdndDrop -> SelectionRequest (the URI list) -> XdndFinished. Fails on a refusal or at `deadline`.
void drop(Display* display, const Target& target, Window source, Time time, const Atoms& atoms,
          const std::string& uris, Clock::time_point deadline, double timeout_s) {
  std::string waiting_for = "XdndStatus";
  bool dropped = false, handed_over = false;
  XEvent event;
  while (next_event(display, event, deadline)) {
    if (event.type == SelectionRequest) {
      handed_over |= answer_selection_request(display, event.xselectionrequest, atoms, uris);
      check_no_x_error(display, "answering the target's SelectionRequest");
      if (handed_over) waiting_for = "XdndFinished";
    } else if (event.type == SelectionClear) {
      fail("another client took XdndSelection during the drop");
    } else if (event.type == ClientMessage && event.xclient.message_type == atoms.status && !dropped) {
      if (!(event.xclient.data.l[1] & 1)) {
        send_message(display, target, atoms.leave, source, 0, 0, 0, 0);
        fail("window " + hex(target.window) + " refused the drop (XdndStatus without 'accept': no text/uri-list?)");
      }
      send_message(display, target, atoms.drop, source, 0, time, 0, 0);
      check_no_x_error(display, "sending XdndDrop");
      dropped = true;
      waiting_for = "the target to convert XdndSelection to text/uri-list";
    } else if (event.type == ClientMessage && event.xclient.message_type == atoms.finished) {
      if (!handed_over) fail("XdndFinished came before the target asked for the URI list");
      // Version 5 says bit 0 of l[1] tells whether the drop was accepted; GLFW 3.3 puts the number of bytes it read
      // there instead, so only 0 counts as a refusal.
      if (target.version >= 5 && event.xclient.data.l[1] == 0) fail("the target finished without accepting the drop");
      return;
    }
  }
  fail("timed out after " + std::to_string(static_cast<int>(timeout_s)) + " s waiting for " + waiting_for +
       " from window " + hex(target.window));
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  Display* display = XOpenDisplay(nullptr);
  if (!display) fail(std::string("cannot open the X display (DISPLAY=") + XDisplayName(nullptr) + ")");
  XSetErrorHandler(remember_x_error);
  const Atoms atoms(display);
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_s));
  const Window source = XCreateSimpleWindow(display, DefaultRootWindow(display), 0, 0, 1, 1, 0, 0, 0);
  XSelectInput(display, source, PropertyChangeMask);

  const Target target = wait_for_target(display, options, atoms, deadline);
  const std::string uris = uri_list(options.paths);
  if (uris.size() > static_cast<size_t>(XMaxRequestSize(display)) * 4 - 64) {
    fail("the URI list is too long for one property change (INCR transfers are not implemented)");
  }
  const Time time = server_time(display, source, atoms);
  XSetSelectionOwner(display, atoms.selection, source, time);
  if (XGetSelectionOwner(display, atoms.selection) != source) fail("could not own XdndSelection");

  enter_and_hover(display, target, source, time, atoms);
  drop(display, target, source, time, atoms, uris, deadline, options.timeout_s);
  std::printf("xdnd_drop: dropped %zu path(s) on window %s (XDND version %ld)\n", options.paths.size(),
              hex(target.window).c_str(), target.version);
  XCloseDisplay(display);
  return 0;
}
