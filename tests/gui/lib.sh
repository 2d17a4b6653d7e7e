# Helpers for the GUI, webcam and classify tests (sourced by tests/cli/gui_*.sh, test_webcam.sh, webcam_stream.sh,
# classify_url.sh and classify_folder.sh).
# Each test calls `gui_test_setup NAME TOOL...`, which exits 77 (skipped) naming what is missing.
bin=${DISTRVIT_BIN:?set DISTRVIT_BIN to the build/bin folder}
root=${DISTRVIT_ROOT:?set DISTRVIT_ROOT to the source tree}
shared=${DISTRVIT_SHARED:-$root/../shared}
model=$shared/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k
samples=$shared/data/imagenet/samples

skip() {
  echo "SKIP $test_name: $*"
  exit 77
}

# gui_test_setup NAME [needs...]: needs are program paths or names (Xvfb, ffmpeg, python3, ...).
gui_test_setup() {
  test_name=$1
  shift
  for need in "$@"; do
    case $need in
      /*) [ -x "$need" ] || skip "$need is not built" ;;
      *) command -v "$need" >/dev/null || skip "$need is not installed" ;;
    esac
  done
  [ -f "$model/model.safetensors" ] || skip "model not found at $model"
  [ -d "$samples" ] || skip "sample images not found at $samples"
  tmp=$(mktemp -d)
  xvfb_pid=""
  http_pid=""
  trap 'cleanup' EXIT
  failures=0
}

cleanup() {
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null && wait "$xvfb_pid" 2>/dev/null
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null && wait "$http_pid" 2>/dev/null
  rm -rf "$tmp"
}

# start_http_server DIR: python's http.server on 127.0.0.1, a free port, serving DIR (no byte ranges); sets
# http_root to http://127.0.0.1:PORT and http_pid; the proxy settings leave 127.0.0.1 alone.
start_http_server() {
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" >"$tmp/http.log" 2>&1 &
  http_pid=$!
  local port=""
  for _ in $(seq 200); do
    port=$(sed -nE 's/.* port ([0-9]+).*/\1/p' "$tmp/http.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL the local HTTP server did not start: $(cat "$tmp/http.log")"; exit 1; }
  http_root=http://127.0.0.1:$port
  export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
}

stop_http_server() {
  kill "$http_pid" 2>/dev/null
  wait "$http_pid" 2>/dev/null
  http_pid=""
}

# start_xvfb: one virtual X server for the whole test (Mesa renders OpenGL in software); sets DISPLAY.
start_xvfb() {
  Xvfb -displayfd 3 -screen 0 1400x900x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
  xvfb_pid=$!
  for _ in $(seq 100); do
    [ -s "$tmp/display" ] && break
    kill -0 "$xvfb_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$tmp/display" ] || { echo "FAIL Xvfb did not start: $(cat "$tmp/xvfb.log")"; exit 1; }
  export DISPLAY=:$(cat "$tmp/display")
}

check() {  # check DESCRIPTION COMMAND...: runs the command, counts a failure when it fails
  local description=$1
  shift
  if "$@"; then
    echo "ok   $description"
  else
    echo "FAIL $description"
    failures=$((failures + 1))
  fi
}

# check_failed_run WHAT LINE: the run that just ended (exit code in $rc, output in $tmp/stdout and $tmp/stderr)
# failed cleanly: exit code 1..127, stderr exactly LINE, nothing on stdout.
check_failed_run() {
  check "$1: exit code 1..127 (got $rc)" test "$rc" -ne 0 -a "$rc" -lt 128
  check "$1: one error line: $(cat "$tmp/stderr")" test "$(cat "$tmp/stderr")" = "$2"
  check "$1: nothing on stdout" test ! -s "$tmp/stdout"
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$test_name: $failures check(s) failed"
    exit 1
  fi
  echo "$test_name: all checks passed"
}

# make_video IMAGE OUT.mp4: the image held for 1 s at 10 frames/s (MPEG-4 part 2, which every FFmpeg has).
make_video() {
  ffmpeg -nostdin -loglevel error -y -loop 1 -i "$1" -t 1 -r 10 -vf "scale=320:-2,format=yuv420p" \
    -c:v mpeg4 -q:v 3 "$2" || { echo "FAIL ffmpeg could not make $2 from $1"; exit 1; }
}

# run_gui ARGS...: distrvit-gui on the test's X server (start_xvfb first), CPU inference, the real model.
run_gui() {
  LIBGL_ALWAYS_SOFTWARE=1 "$bin/distrvit-gui" --device cpu --model "$model" --size 1280x800 --timeout 100 "$@"
}

# json FILE EXPRESSION: evaluates a Python expression over the parsed JSON document `r`.
json() {
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# png_to_rgb PNG OUT.rgb: raw 8-bit RGB pixels, rows top to bottom.
png_to_rgb() {
  ffmpeg -nostdin -loglevel error -y -i "$1" -f rawvideo -pix_fmt rgb24 "$2"
}

# classify_top1 IMAGE: "INDEX LABEL", the top-1 of `distrvit classify` (exact attention, CPU) on IMAGE.
classify_top1() {
  "$bin/distrvit" classify --device cpu --model "$model" --json "$1" |
    python3 -c 'import json, sys; top = json.load(sys.stdin)[0]["top"][0]; print(top["index"], top["label"])'
}

# check_classified_image REPORT IMAGE: the run (exact attention) opened IMAGE as its source, classified it,
# and shows the top-1 that `distrvit classify` gives for the same file.
check_classified_image() {
  local report=$1 image=$2 source expected shown
  source=$(json "$report" 'r["source"]')
  check "report says ok" test "$(json "$report" 'r["result"]')" = ok
  check "the source is the image (got '$source')" test "$source" = "images $image"
  check "the frame shown is the image" test "$(json "$report" 'r["shown"]["frame_name"]')" = "$(basename "$image")"
  expected=$(classify_top1 "$image")
  shown=$(json "$report" '"%d %s" % (r["top1"]["index"], r["top1"]["label"])')
  check "top-1 shown '$shown' is distrvit classify's '$expected'" test -n "$expected" -a "$shown" = "$expected"
}
