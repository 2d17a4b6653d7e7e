#!/usr/bin/env bash
# run_fuzzer.sh BINARY CORPUS_DIR SEED_DIR SECONDS: runs a libFuzzer target for a bounded time.
set -euo pipefail
binary=$1 corpus=$2 seeds=$3 seconds=$4
mkdir -p "$corpus"
[ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
"$binary" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 "$corpus"
