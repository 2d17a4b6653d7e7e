#!/usr/bin/env bash
# distrvit-gui on a still image while the accuracy-vs-latency sweep runs in the background over labelled
# photos: live frames keep coming during the sweep, the sweep yields one point per configuration (top-1,
# latency) drawn on the chart, and a sweep can be cancelled.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_sweep "$bin/distrvit-gui" Xvfb ffmpeg python3
start_xvfb
checker="python3 $(dirname "$0")/../gui/screenshot_check.py"

run_gui --images "$samples/n01440764_tench.JPEG" --sweep-folder "$samples" --sweep-images 6 \
  --sweep-attentions exact distr:l=16:G=2 --script "frames=1;sweep=start;frames=2;sweep=wait;frames=1" \
  --screenshot "$tmp/sweep.png" >"$tmp/log" 2>&1
rc=$?
check "sweep run exits 0 (got $rc: $(tail -c 300 "$tmp/log"))" test $rc -eq 0
[ -s "$tmp/sweep.json" ] || { echo "FAIL no report"; exit 1; }
report=$tmp/sweep.json
check "image source classified as tench" test "$(json "$report" 'r["top1"]["label"]')" = tench
check "frames classified while the sweep ran" test "$(json "$report" 'r["segments"][1]["frames"]')" -eq 2
check "two sweep points: $(json "$report" 'r["sweep"]["points"]')" test "$(json "$report" 'len(r["sweep"]["points"])')" -eq 2
check "each point over 6 images" test "$(json "$report" 'all(p["images"] == 6 for p in r["sweep"]["points"])')" = True
check "points carry latency" test "$(json "$report" 'all(p["forward_ms"] > 0 for p in r["sweep"]["points"])')" = True
check "exact top-1 on the photos is at least 50 %" test "$(json "$report" 'r["sweep"]["points"][0]["top1"] >= 50')" = True
check "the chart shows both points" $checker points "$tmp/sweep.png" \
  $(json "$report" '" ".join(str(r["sweep_panel"][k]) for k in ("x", "y", "width", "height"))') 2

run_gui --images "$samples/n01440764_tench.JPEG" --sweep-folder "$samples" --sweep-images 50 \
  --script "frames=1;sweep=start;sweep=cancel;sweep=wait" --report "$tmp/cancel.json" >"$tmp/log" 2>&1
rc=$?
check "cancel run exits 0 (got $rc: $(tail -c 300 "$tmp/log"))" test $rc -eq 0
check "sweep reports cancelled" test "$(json "$tmp/cancel.json" 'r["sweep"]["cancelled"]')" = True
[ -n "${DISTRVIT_KEEP_SCREENSHOTS:-}" ] && cp "$tmp/sweep.png" "$report" "$DISTRVIT_KEEP_SCREENSHOTS"/
finish
