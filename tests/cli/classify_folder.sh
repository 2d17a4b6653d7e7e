#!/usr/bin/env bash
# classify FOLDER: every image file below it (sub-folders too, other files ignored) in sorted order, in batches,
# each with the predictions it gets alone; a folder without images, and a corrupt image in a later batch, end with
# one error line naming the path, a non-zero exit and nothing on stdout.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup classify_folder "$bin/distrvit" python3
classify() { "$bin/distrvit" classify --device cpu --model "$model" --json "$@"; }

photos=$tmp/photos
mkdir -p "$photos/sub" "$tmp/empty/sub"
for name in n01440764_tench n02391049_zebra n02007558_flamingo; do cp "$samples/$name.JPEG" "$photos/"; done
for name in n02692877_airship n01530575_brambling; do cp "$samples/$name.JPEG" "$photos/sub/"; done
echo "not an image" >"$photos/notes.txt"
touch "$tmp/empty/sub/readme.md"

classify --batch 2 "$photos" >"$tmp/folder.json" 2>"$tmp/err"
check "folder: exits 0 ($(cat "$tmp/err"))" test $? -eq 0
for file in $(find "$photos" -name '*.JPEG' | sort); do classify --batch 1 "$file"; done >"$tmp/alone.txt"
check "folder: the 5 images in sorted order, each as classified alone" python3 - "$tmp/folder.json" "$tmp/alone.txt" \
  "$photos" <<'PY'
import json, sys
folder = json.load(open(sys.argv[1]))
decoder, text, alone = json.JSONDecoder(), open(sys.argv[2]).read(), []
while text.strip():
    value, end = decoder.raw_decode(text.lstrip())
    alone += value
    text = text.lstrip()[end:]
names = [r["image"] for r in folder]
assert names == sorted(names) and len(names) == 5, names
assert [n[len(sys.argv[3]) + 1:] for n in names][3:] == ["sub/n01530575_brambling.JPEG", "sub/n02692877_airship.JPEG"]
for batched, single in zip(folder, alone):
    assert batched["image"] == single["image"]
    assert [t["index"] for t in batched["top"]] == [t["index"] for t in single["top"]], (batched, single)
    assert all(abs(a["prob"] - b["prob"]) < 1e-5 for a, b in zip(batched["top"], single["top"])), (batched, single)
PY

classify "$tmp/empty" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check_failed_run "empty folder" "distrvit: error: $tmp/empty: folder holds no image files"

head -c 2000 "$samples/n01440764_tench.JPEG" >"$photos/sub/zz_truncated.jpg"
classify --batch 2 "$photos" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check_failed_run "corrupt image in the last batch (nothing printed for the earlier ones)" \
  "distrvit: error: $photos/sub/zz_truncated.jpg: truncated JPEG file: Premature end of JPEG file"
finish
