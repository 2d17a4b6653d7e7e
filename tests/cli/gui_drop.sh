#!/usr/bin/env bash
# Drag and drop onto distrvit-gui, for real through X11: xdnd_drop (tests/gui/xdnd_drop.cpp) plays the file manager
# and drops an image, then its folder, on the window of a GUI started without a source. The GUI must open what was
# dropped and show the top-1 that `distrvit classify` gives for the image. The path holds a space, '#' and 'é', so
# its file:// URI is percent-encoded and has to be decoded on the way in.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_drop "$bin/distrvit-gui" "$bin/xdnd_drop" "$bin/distrvit" Xvfb python3 ffmpeg
start_xvfb
checker="python3 $(dirname "$0")/../gui/screenshot_check.py"

image="$tmp/dropped photos/flamingo #1 é.JPEG"
mkdir -p "$(dirname "$image")"
cp "$samples/n02007558_flamingo.JPEG" "$image"

"$bin/xdnd_drop" --title distrvit --timeout 1 "$image" >"$tmp/nowindow.log" 2>&1
rc=$?
expected="xdnd_drop: timed out after 1 s waiting for a window titled 'distrvit' to appear"
check "no window yet: xdnd_drop exits 1 (got $rc) saying so: $(cat "$tmp/nowindow.log")" \
  test $rc -eq 1 -a "$(cat "$tmp/nowindow.log")" = "$expected"

# drop_on_gui NAME PATH...: a GUI without a source, then the drop; frames=1 waits for the frame only it can bring.
drop_on_gui() {
  local name=$1 rc gui_pid
  shift
  run_gui --attention exact --script "frames=1" --screenshot "$tmp/$name.png" >"$tmp/$name.log" 2>&1 &
  gui_pid=$!
  "$bin/xdnd_drop" --title distrvit --timeout 60 "$@" >"$tmp/$name.drop" 2>&1
  rc=$?
  check "$name: the window took the drop (got $rc: $(cat "$tmp/$name.drop"))" test $rc -eq 0
  [ $rc -eq 0 ] || kill "$gui_pid" 2>/dev/null
  wait "$gui_pid"
  rc=$?
  check "$name: distrvit-gui exits 0 (got $rc: $(tail -c 300 "$tmp/$name.log"))" test $rc -eq 0
  [ -s "$tmp/$name.json" ] || { echo "FAIL $name: no report"; exit 1; }
}

drop_on_gui file "$image"
check_classified_image "$tmp/file.json" "$image"
check "its class is the photo's (n02007558)" test "$(json "$tmp/file.json" 'r["top1"]["synset"]')" = n02007558
check "the view panel shows the image" $checker busy "$tmp/file.png" \
  $(json "$tmp/file.json" '" ".join(str(r["view_panel"][k]) for k in ("x", "y", "width", "height"))')

folder=$(dirname "$image")
drop_on_gui folder "$folder"
check "folder: the source is the folder" test "$(json "$tmp/folder.json" 'r["source"]')" = "images $folder"
check "folder: its image was classified" \
  test "$(json "$tmp/folder.json" 'r["shown"]["frame_name"]')" = "$(basename "$image")"
[ -n "${DISTRVIT_KEEP_SCREENSHOTS:-}" ] && cp "$tmp/file.png" "$tmp/file.json" "$DISTRVIT_KEEP_SCREENSHOTS"/
finish
