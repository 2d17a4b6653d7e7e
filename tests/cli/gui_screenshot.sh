#!/usr/bin/env bash
# distrvit-gui headless under Xvfb + Mesa: two runs on videos of two different ImageNet photos. Each must
# classify frames, write a screenshot that is not blank and a report whose top-1 is the photo's class;
# the two screenshots' prediction panels must differ in their pixels.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_screenshot "$bin/distrvit-gui" Xvfb ffmpeg python3
start_xvfb
checker="python3 $(dirname "$0")/../gui/screenshot_check.py"

declare -A synset=([tench]=n01440764 [flamingo]=n02007558)
for name in tench flamingo; do
  make_video "$samples/${synset[$name]}_$name.JPEG" "$tmp/$name.mp4"
  run_gui --video "$tmp/$name.mp4" --frames 4 --attention distr:l=64:G=2 --screenshot "$tmp/$name.png" \
    >"$tmp/$name.log" 2>&1
  rc=$?
  check "$name: distrvit-gui exits 0 (got $rc: $(tail -c 300 "$tmp/$name.log"))" test $rc -eq 0
  check "$name: screenshot written" test -s "$tmp/$name.png"
  check "$name: report written" test -s "$tmp/$name.json"
  [ -s "$tmp/$name.json" ] || continue
  check "$name: report says ok" test "$(json "$tmp/$name.json" 'r["result"]')" = ok
  check "$name: frames classified > 0" test "$(json "$tmp/$name.json" 'r["frames_processed"]')" -ge 4
  check "$name: UI frames drawn > 0" test "$(json "$tmp/$name.json" 'r["ui_frames"]')" -gt 0
  shown=$(json "$tmp/$name.json" 'r["shown"]["exact_top5"][0]["synset"] + " " + r["shown"]["exact_top5"][0]["label"]')
  check "$name: exact-attention top-1 shown is the photo's class (${synset[$name]}), got '$shown'" \
    test "${shown%% *}" = "${synset[$name]}"
  check "$name: configured attention ran" test "$(json "$tmp/$name.json" 'r["shown"]["attention"]')" = distr:l=64:G=2
  check "$name: screenshot is not blank" $checker busy "$tmp/$name.png"
  view=$(json "$tmp/$name.json" '" ".join(str(r["view_panel"][k]) for k in ("x", "y", "width", "height"))')
  check "$name: view panel shows an image" $checker busy "$tmp/$name.png" $view
done

if [ -s "$tmp/tench.json" ] && [ -s "$tmp/flamingo.json" ]; then
  panel=$(json "$tmp/tench.json" '" ".join(str(r["prediction_panel"][k]) for k in ("x", "y", "width", "height"))')
  check "prediction panels of the two runs differ in pixels" $checker differ "$tmp/tench.png" "$tmp/flamingo.png" $panel
  [ -n "${DISTRVIT_KEEP_SCREENSHOTS:-}" ] && cp "$tmp"/*.png "$tmp"/*.json "$DISTRVIT_KEEP_SCREENSHOTS"/
fi
finish
