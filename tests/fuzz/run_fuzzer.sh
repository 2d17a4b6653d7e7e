#!/usr/bin/env bash
# run_fuzzer.sh BINARY CORPUS_DIR SEED_DIR SECONDS: runs a libFuzzer target for a bounded time.
set -euo pipefail
binary=$1 corpus=$2 seeds=$3 seconds=$4
mkdir -p "$corpus"
[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
# Seeds that may not be committed (photographs) are listed in SEED_DIR.shared, one path per line
# relative to the shared data folder, and copied from there when it is present.
shared=${DISTRVIT_SHARED:-$(dirname "$0")/../../../shared}
if [ -f "$seeds.shared" ]; then
  while read -r relative; do
    [ -n "$relative" ] && [ -f "$shared/$relative" ] && cp -n --no-preserve=mode "$shared/$relative" "$corpus"/ || true
  done < "$seeds.shared"
fi
"$binary" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 "$corpus"
