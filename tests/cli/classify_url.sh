#!/usr/bin/env bash
# classify with an image URL (a local HTTP server): the same predictions as the file on disk, the download cached
# (found again with the server gone and downloads off), and a bad URL is one error line naming it, a non-zero
# exit, nothing on stdout and nothing left in the cache.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup classify_url "$bin/distrvit" python3
export DISTRVIT_CACHE=$tmp/cache
unset DISTRVIT_OFFLINE
classify() { "$bin/distrvit" classify --device cpu --model "$model" "$@"; }
cached_files() { find "$tmp/cache/images" -type f 2>/dev/null | wc -l; }

start_http_server "$samples"
url=$http_root/n01440764_tench.JPEG
classify --json --topk 5 "$url" "$samples/n01440764_tench.JPEG" >"$tmp/both.json" 2>"$tmp/err"
check "classify $url exits 0 ($(cat "$tmp/err"))" test $? -eq 0
check "the URL's predictions are the file's, top-1 tench" python3 - "$tmp/both.json" "$url" <<'PY'
import json, sys
from_url, from_file = json.load(open(sys.argv[1]))
assert from_url["image"] == sys.argv[2], from_url["image"]
assert from_url["top"] == from_file["top"], (from_url["top"], from_file["top"])
assert from_url["top"][0]["label"] == "tench", from_url["top"][0]
PY
check "one file in the cache ($(cached_files))" test "$(cached_files)" -eq 1

missing=$http_root/missing.jpg
classify "$missing" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check_failed_run "404" "distrvit: error: $missing: download failed: HTTP 404 from $missing"
check "404: nothing added to the cache" test "$(cached_files)" -eq 1

stop_http_server
DISTRVIT_OFFLINE=1 classify "$url" >"$tmp/offline" 2>"$tmp/err"
check "cached: classified again with the server gone and downloads off ($(cat "$tmp/err"))" grep -q tench "$tmp/offline"
finish
