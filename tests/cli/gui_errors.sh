#!/usr/bin/env bash
# distrvit-gui on sources that cannot work: no camera, a missing video, a file that is no video. Each headless
# run must still draw the message, write its screenshot and report, and exit 1 naming the source.
# A bad --script and a missing display fail before any window, with one clear line.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_errors "$bin/distrvit-gui" Xvfb python3 ffmpeg
start_xvfb
checker="python3 $(dirname "$0")/../gui/screenshot_check.py"
echo "not a video" >"$tmp/corrupt.mp4"

# expect_source_error NAME EXPECTED_TEXT SOURCE_ARGS...
expect_source_error() {
  local name=$1 expected=$2
  shift 2
  run_gui "$@" --frames 2 --screenshot "$tmp/$name.png" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local rc=$?
  check "$name: exits 1 (got $rc)" test $rc -eq 1
  check "$name: stderr names the problem: $(grep distrvit-gui "$tmp/$name.err")" \
    grep -qF -- "distrvit-gui: $expected" "$tmp/$name.err"
  check "$name: screenshot written" test -s "$tmp/$name.png"
  [ -s "$tmp/$name.json" ] || { check "$name: report written" false; return; }
  check "$name: report gives the source error" \
    test "$(json "$tmp/$name.json" 'r["source_error"].startswith(r["source_error"] and "'"$expected"'")')" = True
  check "$name: the message is drawn in red in the view panel" $checker red "$tmp/$name.png" \
    $(json "$tmp/$name.json" '" ".join(str(r["view_panel"][k]) for k in ("x", "y", "width", "height"))')
}

expect_source_error no_camera "camera 9: cannot open" --camera 9
expect_source_error missing_video "$tmp/missing.mp4: no such video file" --video "$tmp/missing.mp4"
expect_source_error corrupt_video "$tmp/corrupt.mp4: cannot open as a video" --video "$tmp/corrupt.mp4"

"$bin/distrvit-gui" --script "frames=2;bogus=1" >"$tmp/script.out" 2>"$tmp/script.err"
rc=$?
check "bad script: exits 2 (got $rc)" test $rc -eq 2
check "bad script: one line naming the step: $(cat "$tmp/script.err")" \
  test "$(cat "$tmp/script.err")" = "distrvit-gui: --script: unknown step 'bogus=1' (frames, wait, attention, l, G, P, seed, variant, r, layers, device, precision, threads, model, layer, head, compare, pause, play, step, screenshot, video, camera, images, dialog, sweep)"

env -u DISPLAY -u WAYLAND_DISPLAY "$bin/distrvit-gui" --frames 1 >"$tmp/display.out" 2>"$tmp/display.err"
rc=$?
check "no display: exits 1 (got $rc)" test $rc -eq 1
check "no display: says so: $(cat "$tmp/display.err")" grep -q "no display" "$tmp/display.err"
finish
