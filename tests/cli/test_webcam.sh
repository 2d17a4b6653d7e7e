#!/usr/bin/env bash
# distrvit webcam --video: a source line (frames, fps, decoder), one line per classified frame with its top-1, then
# the mean FPS; --loop starts over at the end. A camera that is not there, a missing video, a file that is no video and
# a truncated video each end with one error line and a non-zero exit, never a crash.
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
check "video: source line first, with 10 frames at 10 fps: $(head -1 "$tmp/out")" \
  grep -qE "^source: video $tmp/flamingo.mp4: 10 frames at 10.00 fps, decoded by .*; every frame, unpaced\$" <(head -1 "$tmp/out")
ffmpeg_backend=$(head -1 "$tmp/out" | grep -c "decoded by FFmpeg")

# frame_indices FILE: the source positions of the printed frames, on one line.
frame_indices() { sed -n 's/^frame \([0-9]*\):.*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }

# Ten frames at 30 fps: the count and rate the source reports, every frame once, and looping back to frame 0.
ffmpeg -nostdin -loglevel error -y -loop 1 -i "$samples/n01440764_tench.JPEG" -frames:v 10 -r 30 \
  -vf "scale=256:-2,format=yuv420p" -c:v mpeg4 -q:v 3 "$tmp/ten.mp4" || { echo "FAIL ffmpeg could not make ten.mp4"; exit 1; }
webcam --video "$tmp/ten.mp4" >"$tmp/ten" 2>"$tmp/err"
rc=$?
check "10 frames at 30 fps: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "10 frames at 30 fps: reported: $(head -1 "$tmp/ten")" grep -q "^source: video $tmp/ten.mp4: 10 frames at 30.00 fps," "$tmp/ten"
check "10 frames at 30 fps: frames 0 to 9 in order: $(frame_indices "$tmp/ten")" \
  test "$(frame_indices "$tmp/ten")" = "$(seq -s ' ' 0 9)"
webcam --video "$tmp/ten.mp4" --loop --frames 25 >"$tmp/loop" 2>"$tmp/err"
rc=$?
check "loop: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "loop: 25 frames, rewinding twice: $(frame_indices "$tmp/loop")" \
  test "$(frame_indices "$tmp/loop")" = "$(seq -s ' ' 0 9) $(seq -s ' ' 0 9) $(seq -s ' ' 0 4)"
check "loop: mean FPS over 24 frames after the first" grep -qE '^mean fps: [0-9]+\.[0-9]+ \(25 frames; 24 completed in' "$tmp/loop"

webcam --video "$tmp/flamingo.mp4" --attention distr:l=64:G=2 >"$tmp/whole" 2>"$tmp/err"
rc=$?
check "whole video with distr attention: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "whole video: every one of its 10 frames classified" test "$(grep -c '^frame ' "$tmp/whole")" -eq 10

# A calibrated plan with low-rank heads (a quick one: 8 images) runs in the live pipeline with its projections
# (plan files used to be parsed without them there), and plan:calibrated finds it where calibrate left it.
DISTRVIT_CACHE="$tmp/cache" "$bin/distrvit" calibrate --device cpu --model "$model" --images "$shared/data/imagenet/val-1300" \
  --limit 8 --every 1 --sensitivity-images 4 --candidates lowrank:r=32 --budget 100 >"$tmp/calibrate" 2>"$tmp/err"
rc=$?
check "calibrate into the cache: exits 0 (got $rc: $(tail -1 "$tmp/err"))" test $rc -eq 0
check "calibrate into the cache: $(head -1 "$tmp/calibrate")" \
  grep -q "^plan $tmp/cache/plans/vit_tiny_patch16_224.augreg_in21k_ft_in1k/plan.json: 36 of 36 heads" "$tmp/calibrate"
DISTRVIT_CACHE="$tmp/cache" webcam --video "$tmp/flamingo.mp4" --frames 3 --attention plan:calibrated >"$tmp/plan" 2>"$tmp/err"
rc=$?
check "calibrated plan (low-rank heads): exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "calibrated plan: 3 frames classified" test "$(grep -c '^frame [0-9]*: ' "$tmp/plan")" -eq 3
webcam --video "$tmp/flamingo.mp4" --frames 1 --attention "plan:$tmp/cache/plans/vit_tiny_patch16_224.augreg_in21k_ft_in1k/plan.json" \
  >"$tmp/plan_file" 2>"$tmp/err"
rc=$?
check "plan:FILE with low-rank heads: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0

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
head -c 300000 /dev/urandom >"$tmp/noise.mkv"
expect_error "random bytes" "$tmp/noise.mkv: " --video "$tmp/noise.mkv"
expect_error "weights file" "$model/model.safetensors: " --video "$model/model.safetensors"
expect_error "folder" "$tmp: is a folder, not a video file" --video "$tmp"
ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=duration=1 -c:a aac "$tmp/tone.mp4"
expect_error "audio only" "$tmp/tone.mp4: $([ "$ffmpeg_backend" -eq 1 ] && echo "has no video stream")" --video "$tmp/tone.mp4"

# Videos cut in the middle: 20 distinct frames (noise keeps every frame large), the second half of the bytes gone.
ffmpeg -nostdin -loglevel error -y -loop 1 -i "$samples/n02007558_flamingo.JPEG" -frames:v 20 -r 10 \
  -vf "scale=256:-2,noise=alls=40:allf=t,format=yuv420p" -c:v mpeg4 -q:v 3 "$tmp/full.mp4" &&
  ffmpeg -nostdin -loglevel error -y -i "$tmp/full.mp4" -c copy -movflags +faststart "$tmp/full_faststart.mp4" &&
  ffmpeg -nostdin -loglevel error -y -i "$tmp/full.mp4" -c copy "$tmp/full.mkv" || { echo "FAIL ffmpeg could not make the videos to cut"; exit 1; }
for name in full.mp4 full_faststart.mp4 full.mkv; do
  head -c $(($(stat -c %s "$tmp/$name") / 2)) "$tmp/$name" >"$tmp/cut_$name"
done
# MP4's index is at its end: the cut file cannot be opened.
expect_error "truncated mp4" "$tmp/cut_full.mp4: cannot open as a video" --video "$tmp/cut_full.mp4"
if [ "$ffmpeg_backend" -eq 1 ]; then
  # With the index first, the frames before the cut play, then the index tells that the rest is missing.
  expect_error "truncated faststart mp4" "$tmp/cut_full_faststart.mp4: truncated" --video "$tmp/cut_full_faststart.mp4"
  check "truncated faststart mp4: the frames before the cut were classified" grep -q '^frame 0: ' "$tmp/out"
fi
# Matroska without its cues: the frames before the cut, then a clean end (or one error line), never a crash.
webcam --video "$tmp/cut_full.mkv" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "truncated mkv: not killed by a signal (got $rc)" test $rc -lt 128
check "truncated mkv: fewer than 20 frames, then exit 0 or one error line: rc $rc, $(grep -c '^frame ' "$tmp/out") frames, $(cat "$tmp/err")" \
  test "$(grep -c '^frame ' "$tmp/out")" -lt 20 -a \( $rc -eq 0 -o "$(grep -c '^distrvit: error: ' "$tmp/err")" -eq 1 \)
expect_error "unknown attention key" "--attention" --video "$tmp/flamingo.mp4" --attention distr:x=1
expect_error "G not dividing the head" "G=3" --video "$tmp/flamingo.mp4" --attention distr:G=3
finish
