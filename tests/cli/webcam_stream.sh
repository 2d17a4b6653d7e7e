#!/usr/bin/env bash
# distrvit webcam --video URL: a remote video file (HTTP) plays like the local file, every frame in order; a live
# stream (MPEG-TS over UDP, sent by ffmpeg in real time) is classified as its frames come, late ones dropped; a
# stream that stops ends with one error line after the network timeout, and a missing URL with one at once.
# distrvit-gui plays the live stream too (when it and Xvfb are there). Ctrl-C does not wait for the network timeout.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup webcam_stream "$bin/distrvit" ffmpeg python3
"$bin/distrvit" --help 2>/dev/null | grep -q "^  webcam" || skip "this distrvit has no webcam command"
webcam() { timeout 120 "$bin/distrvit" webcam --device cpu --model "$model" "$@"; }
frame_indices() { sed -n 's/^frame \([0-9]*\):.*/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }
flamingo=$samples/n02007558_flamingo.JPEG

mkdir -p "$tmp/served"
make_video "$flamingo" "$tmp/served/flamingo.mp4"
start_http_server "$tmp/served"
url=$http_root/flamingo.mp4
webcam --video "$url" >"$tmp/remote" 2>"$tmp/err"
rc=$?
check "remote file: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "remote file: a file's source line: $(head -1 "$tmp/remote")" \
  grep -qE "^source: video $url: 10 frames at 10.00 fps, .*; every frame, unpaced\$" <(head -1 "$tmp/remote")
check "remote file: frames 0 to 9 in order: $(frame_indices "$tmp/remote")" \
  test "$(frame_indices "$tmp/remote")" = "$(seq -s ' ' 0 9)"
check "remote file: top-1 flamingo in all 10" test "$(grep -c '^frame [0-9]*: flamingo (' "$tmp/remote")" -eq 10
webcam --video "$http_root/missing.mp4" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "missing URL: exit code 1..127 (got $rc)" test $rc -ne 0 -a $rc -lt 128
check "missing URL: one error line naming it: $(cat "$tmp/err")" \
  grep -qxE "distrvit: error: $http_root/missing.mp4: cannot open as a video \(.*\)" "$tmp/err"
stop_http_server

# send_live SECONDS PORT: the flamingo as a 10 fps MPEG-2 stream in MPEG-TS to udp://127.0.0.1:PORT, in real time.
send_live() {
  timeout "$1" ffmpeg -nostdin -loglevel error -re -loop 1 -i "$flamingo" -r 10 -vf "scale=256:-2,format=yuv420p" \
    -c:v mpeg2video -g 5 -f mpegts "udp://127.0.0.1:$2?pkt_size=1316" >/dev/null 2>&1 &
}
port=$((20000 + RANDOM % 20000))
send_live 100 "$port"
sender=$!
webcam --video "udp://127.0.0.1:$port" --frames 3 >"$tmp/live" 2>"$tmp/err"
rc=$?
kill "$sender" 2>/dev/null
wait "$sender" 2>/dev/null
check "live: exits 0 (got $rc: $(cat "$tmp/err"))" test $rc -eq 0
check "live: a live source line: $(head -1 "$tmp/live")" grep -qE \
  "^source: video udp://127.0.0.1:$port: live, .*; as frames come, late frames dropped\$" <(head -1 "$tmp/live")
check "live: 3 frames, top-1 flamingo" test "$(grep -c '^frame [0-9]*: flamingo (' "$tmp/live")" -eq 3

if [ -x "$bin/distrvit-gui" ] && command -v Xvfb >/dev/null; then
  start_xvfb
  port=$((20000 + RANDOM % 20000))
  send_live 100 "$port"
  sender=$!
  run_gui --video "udp://127.0.0.1:$port" --frames 3 --screenshot "$tmp/gui.png" >"$tmp/gui.log" 2>&1
  rc=$?
  kill "$sender" 2>/dev/null
  wait "$sender" 2>/dev/null
  check "gui, live: exits 0 (got $rc: $(tail -2 "$tmp/gui.log"))" test $rc -eq 0
  check "gui, live: the report names the stream" test "$(json "$tmp/gui.json" 'r["source"]')" = "video udp://127.0.0.1:$port"
  check "gui, live: 3 frames classified, flamingo shown" \
    test "$(json "$tmp/gui.json" 'r["frames_processed"] >= 3 and r["shown"]["top5"][0]["label"]')" = flamingo
else
  echo "SKIP gui, live: distrvit-gui or Xvfb missing"
fi

port=$((20000 + RANDOM % 20000))
send_live 4 "$port"
webcam --video "udp://127.0.0.1:$port" >"$tmp/stopped" 2>"$tmp/err"
rc=$?
check "stopped stream: exit code 1..127 (got $rc)" test $rc -ne 0 -a $rc -lt 128
check "stopped stream: frames before it stopped ($(grep -c '^frame' "$tmp/stopped"))" \
  grep -q '^frame [0-9]*: flamingo' "$tmp/stopped"
check "stopped stream: one error line: $(cat "$tmp/err")" \
  grep -qxE "distrvit: error: udp://127.0.0.1:$port: the stream broke off after [0-9]+ frames \(.*\)" "$tmp/err"

port=$((20000 + RANDOM % 20000))  # nothing sends to it: opening waits for data
started=$(date +%s%N)
"$bin/distrvit" webcam --device cpu --model "$model" --video "udp://127.0.0.1:$port" >"$tmp/silent" 2>"$tmp/err" &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
rc=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
check "Ctrl-C on a silent stream: exits within 6 s of its start, not after the 10 s timeout (took $elapsed_ms ms)" \
  test "$elapsed_ms" -lt 6000
check "Ctrl-C on a silent stream: exit code 1 and one error line: $(cat "$tmp/err")" \
  test $rc -eq 1 -a "$(cat "$tmp/err")" = "distrvit: error: udp://127.0.0.1:$port: no frame was classified"
finish
