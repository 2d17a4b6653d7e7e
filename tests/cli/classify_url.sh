#!/usr/bin/env bash
# classify with an image URL (a local HTTP server): the same predictions as the file on disk, the download cached
# (found again with the server gone and downloads off), and a bad URL is one error line naming it, a non-zero
# exit, nothing on stdout and nothing left in the cache.
set -uo pipefail
bin=${DISTRVIT_BIN:?}/distrvit
shared=${DISTRVIT_SHARED:-${DISTRVIT_ROOT:?}/../shared}
samples=$shared/data/imagenet/samples
tmp=$(mktemp -d)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
export DISTRVIT_CACHE=$tmp/cache no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
unset DISTRVIT_OFFLINE
fail() { echo "FAIL: $*"; exit 1; }

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$samples" >"$tmp/server.log" 2>&1 &
server=$!
port=""
for _ in $(seq 200); do
  port=$(sed -nE 's/.* port ([0-9]+).*/\1/p' "$tmp/server.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "the local HTTP server did not start: $(cat "$tmp/server.log")"
url=http://127.0.0.1:$port/n01440764_tench.JPEG

"$bin" classify --device cpu --json --topk 5 "$url" "$samples/n01440764_tench.JPEG" >"$tmp/both.json" ||
  fail "classify of $url failed"
python3 - "$tmp/both.json" "$url" <<'PY' || fail "URL and file predictions differ"
import json, sys
from_url, from_file = json.load(open(sys.argv[1]))
assert from_url["image"] == sys.argv[2], from_url["image"]
assert from_url["top"] == from_file["top"], (from_url["top"], from_file["top"])
assert from_url["top"][0]["label"] == "tench", from_url["top"][0]
print("ok   URL and file agree:", from_url["top"][0])
PY
[ "$(find "$tmp/cache/images" -type f | wc -l)" -eq 1 ] || fail "cache: $(find "$tmp/cache" -type f)"

missing=http://127.0.0.1:$port/missing.jpg
"$bin" classify --device cpu "$missing" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "$missing: exit code $rc"
[ "$(grep -c . "$tmp/stderr")" -eq 1 ] || fail "stderr is not one line: $(cat "$tmp/stderr")"
grep -qF "distrvit: error: $missing: download failed: HTTP 404" "$tmp/stderr" || fail "error: $(cat "$tmp/stderr")"
[ ! -s "$tmp/stdout" ] || fail "output on stdout: $(cat "$tmp/stdout")"
[ "$(find "$tmp/cache/images" -type f | wc -l)" -eq 1 ] || fail "the failed download left files"
echo "ok   $(cat "$tmp/stderr")"

kill "$server"
wait "$server" 2>/dev/null
server=""
DISTRVIT_OFFLINE=1 "$bin" classify --device cpu "$url" >"$tmp/offline.txt" ||
  fail "the cached image was not found offline"
grep -q "tench" "$tmp/offline.txt" || fail "offline: $(cat "$tmp/offline.txt")"
echo "ok   cached: classified again with the server gone and downloads off"
