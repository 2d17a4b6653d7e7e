#!/usr/bin/env bash
# distrvit-gui --script switches the attention backend, then G, while a video plays, in one process:
# every segment classifies frames with its own configuration, predictions and reported latency change,
# the UI keeps drawing (more UI frames than classified frames everywhere, at least twice as many in the slowest
# segment), and the engine is never rebuilt.
# It runs at 448 x 448 (785 tokens): a forward then takes several of the headless GUI's 33 ms frames even on a fast
# machine, so "twice as many UI frames" separates a UI that waits on inference from one that does not. At 224 a
# forward took about 50 ms on CI, under two UI frames however free the UI is.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_script "$bin/distrvit-gui" Xvfb ffmpeg python3
start_xvfb

make_video "$samples/n01440764_tench.JPEG" "$tmp/tench.mp4"
script="frames=3;attention=distr:l=64:G=2;frames=3;G=4;frames=3"
run_gui --video "$tmp/tench.mp4" --image-size 448 --attention exact --script "$script" --screenshot "$tmp/script.png" \
  >"$tmp/log" 2>&1
rc=$?
check "distrvit-gui exits 0 (got $rc: $(tail -c 300 "$tmp/log"))" test $rc -eq 0
[ -s "$tmp/script.json" ] || { echo "FAIL no report"; exit 1; }
report=$tmp/script.json
python3 - "$report" <<'PY' || failures=$((failures + 1))
import json, sys
r = json.load(open(sys.argv[1]))
segments = r["segments"]
problems = []
expected = ["exact", "distr:l=64:G=2", "distr:l=64:G=4"]
if len(segments) != 3:
    problems.append(f"{len(segments)} segments, expected 3")
for s, want in zip(segments, expected):
    mean_p = sum(t["probability"] for t in s["top1"]) / max(1, len(s["top1"]))
    print(f"  {s['step']:9} ran {s['ran']}: {s['frames']} frames, {s['ui_frames']} UI frames "
          f"(longest gap {s['longest_ui_frame_ms']:.0f} ms), forward {s['mean_forward_ms']:.1f} ms, "
          f"attention {s['mean_attention_ms']:.1f} ms, top-1 {s['top1'][-1]['label'] if s['top1'] else '-'} "
          f"p={mean_p:.4f}")
    if s["frames"] != s["frames_wanted"]:
        problems.append(f"{s['step']}: {s['frames']} of {s['frames_wanted']} frames")
    if s["ran"] != [want]:
        problems.append(f"segment for {want}: engine reported {s['ran']}")
    if s["ui_frames"] <= s["frames"] or s["longest_ui_frame_ms"] > 2000:
        problems.append(f"{want}: {s['ui_frames']} UI frames for {s['frames']} classified, longest gap "
                        f"{s['longest_ui_frame_ms']:.0f} ms (UI waits on inference?)")
# Where inference is slowest, a UI that does not wait on it draws many frames per classified one; that forward must
# last several UI frames for the count to tell.
slowest = max(segments, key=lambda s: s["mean_forward_ms"]) if segments else None
if slowest and slowest["mean_forward_ms"] < 100:
    problems.append(f"{slowest['ran']}: {slowest['mean_forward_ms']:.0f} ms a forward is too fast to tell whether the "
                    f"UI waits on it (raise --image-size)")
elif slowest and slowest["ui_frames"] < 2 * slowest["frames"]:
    problems.append(f"{slowest['ran']}: only {slowest['ui_frames']} UI frames for {slowest['frames']} classified at "
                    f"{slowest['mean_forward_ms']:.0f} ms a forward (UI waits on inference?)")
def mean_probability(s):
    return sum(t["probability"] for t in s["top1"]) / max(1, len(s["top1"]))
for a, b in zip(segments, segments[1:]):
    if abs(mean_probability(a) - mean_probability(b)) < 1e-4:
        problems.append(f"predictions did not change from {a['ran']} to {b['ran']}")
    if a["mean_attention_ms"] == b["mean_attention_ms"] and a["mean_forward_ms"] == b["mean_forward_ms"]:
        problems.append(f"reported latency did not change from {a['ran']} to {b['ran']}")
if r["engine_builds"] != 1:
    problems.append(f"engine built {r['engine_builds']} times: attention changes must not rebuild or restart")
if r["result"] != "ok" or r["errors"]:
    problems.append(f"result {r['result']}, errors {r['errors']}")
for p in problems:
    print("FAIL", p)
if not problems:
    print("ok   three segments, each with its own attention, predictions and latency; UI kept drawing; one engine")
sys.exit(1 if problems else 0)
PY
check "final screenshot written" test -s "$tmp/script.png"
[ -n "${DISTRVIT_KEEP_SCREENSHOTS:-}" ] && cp "$tmp/script.png" "$report" "$DISTRVIT_KEEP_SCREENSHOTS"/
finish
