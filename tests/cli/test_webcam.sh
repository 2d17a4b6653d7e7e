#!/usr/bin/env bash
# distrvit webcam --video: one line per classified frame with its top-1, then the mean FPS; a camera that is
# not there, a missing video and a file that is no video each end with one error line and a non-zero exit.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup test_webcam "$bin/distrvit" ffmpeg
"$bin/distrvit" --help 2>/dev/null | grep -q "^  webcam" || skip "this distrvit has no webcam command (add_webcam_command not called in main.cpp)"

make_video "$samples/n02007558_flamingo.JPEG" "$tmp/flamingo.mp4"
webcam() { "$bin/distrvit" webcam --device cpu --model "$model" "$@"; }

webcam --video "$tmp/flamingo.mp4" --frames 4 >"$tmp/out" 2>"$tmp/err"
rc=$?
check "video: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "video: 4 per-frame lines with top-1 flamingo" test "$(grep -c '^frame [0-9]*: flamingo (' "$tmp/out")" -eq 4
check "video: mean FPS above 0: $(grep '^mean fps' "$tmp/out")" \
  grep -qE '^mean fps: [0-9]*\.[0-9]+ \(4 frames' "$tmp/out"
check "video: FPS not zero" test "$(grep '^mean fps' "$tmp/out" | grep -c 'mean fps: 0.00 ')" -eq 0

webcam --video "$tmp/flamingo.mp4" --attention distr:l=64:G=2 >"$tmp/whole" 2>"$tmp/err"
rc=$?
check "whole video with distr attention: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "whole video: every one of its 10 frames classified" test "$(grep -c '^frame ' "$tmp/whole")" -eq 10

echo "not a video" >"$tmp/corrupt.mp4"
# expect_error NAME EXPECTED ARGS...: non-zero exit, not by a signal, and exactly one "distrvit: error:" line
# that contains EXPECTED.
expect_error() {
  local name=$1 expected=$2
  shift 2
  webcam "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  check "$name: non-zero exit, not a signal (got $rc)" test $rc -ne 0 -a $rc -lt 128
  check "$name: one error line naming it: $(cat "$tmp/err")" \
    test "$(grep -c . "$tmp/err")" -eq 1 -a "$(grep '^distrvit: error: ' "$tmp/err" | grep -cF -- "$expected")" -eq 1
}
expect_error "no camera" "camera 9: cannot open" --camera 9 --frames 2
expect_error "missing video" "$tmp/missing.mp4: no such video file" --video "$tmp/missing.mp4"
expect_error "corrupt video" "$tmp/corrupt.mp4: cannot open as a video" --video "$tmp/corrupt.mp4"
expect_error "unknown attention key" "--attention" --video "$tmp/flamingo.mp4" --attention distr:x=1
expect_error "G not dividing the head" "G=3" --video "$tmp/flamingo.mp4" --attention distr:G=3
finish
