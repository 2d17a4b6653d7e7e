#!/usr/bin/env bash
# The Source dialog of distrvit-gui driven by --script "dialog=PATH": opened at PATH's folder, PATH selected among
# other entries, "Open file" pressed, through the same FileBrowser actions the widgets call. The GUI, started
# without a source, must open the picked image and show the top-1 that `distrvit classify` gives for it; a path the
# dialog does not list is a script error naming it.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup gui_dialog "$bin/distrvit-gui" "$bin/distrvit" Xvfb python3
start_xvfb

photos=$tmp/photos
mkdir -p "$photos/birds"
cp "$samples/n01440764_tench.JPEG" "$photos/a tench.JPEG"
locomotive=$shared/data/imagenet/val-1300/n04310018/ILSVRC2012_val_00001301.JPEG
[ -f "$locomotive" ] || skip "$locomotive not found"
cp "$locomotive" "$photos/b locomotive.JPEG"
echo "not an image" >"$photos/notes.txt"

run_gui --attention exact --script "dialog=$photos/b locomotive.JPEG;frames=1" --screenshot "$tmp/dialog.png" \
  >"$tmp/gui.log" 2>&1
rc=$?
check "distrvit-gui exits 0 (got $rc: $(tail -c 300 "$tmp/gui.log"))" test $rc -eq 0
[ -s "$tmp/dialog.json" ] || { echo "FAIL no report"; exit 1; }
check_classified_image "$tmp/dialog.json" "$photos/b locomotive.JPEG"
check "its class is the photo's (n04310018)" test "$(json "$tmp/dialog.json" 'r["top1"]["synset"]')" = n04310018

run_gui --script "dialog=$photos/notes.txt" --report "$tmp/unlisted.json" >"$tmp/unlisted.out" 2>"$tmp/unlisted.err"
rc=$?
check "unlisted file: exits 1 (got $rc)" test $rc -eq 1
check "unlisted file: stderr names it: $(grep script "$tmp/unlisted.err")" \
  grep -qxF "distrvit-gui: script: dialog=$photos/notes.txt: notes.txt: not listed in $photos" "$tmp/unlisted.err"
check "unlisted file: nothing opened" test "$(json "$tmp/unlisted.json" 'r["frames_processed"]')" -eq 0
finish
