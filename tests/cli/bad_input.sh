#!/usr/bin/env bash
# Bad input battery for the CLI: every case must exit non-zero (not by a signal), print exactly one
# "distrvit: error: ..." line that names the offending file and the problem, and leave no output file.
set -uo pipefail
bin=${DISTRVIT_BIN:?}/distrvit
root=${DISTRVIT_ROOT:?}
shared=${DISTRVIT_SHARED:-$root/../shared}
golden=$shared/golden/vit_tiny_patch16_224
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passed=0

# expect_error NAME EXPECTED_TEXT OUTPUT_FILE -- COMMAND...
expect_error() {
  local name=$1 expected=$2 output=$3
  shift 4
  "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local rc=$?
  local problem=""
  if [ $rc -eq 0 ]; then problem="exit code 0"
  elif [ $rc -ge 128 ]; then problem="killed by signal $((rc - 128))"
  elif [ "$(grep -c . "$tmp/stderr")" -ne 1 ]; then problem="stderr is not one line: $(cat "$tmp/stderr")"
  elif ! grep -q '^distrvit: error: ' "$tmp/stderr"; then problem="no 'distrvit: error:' prefix: $(cat "$tmp/stderr")"
  elif ! grep -qF -- "$expected" "$tmp/stderr"; then problem="error lacks '$expected': $(cat "$tmp/stderr")"
  elif [ -n "$output" ] && ls "$output"* >/dev/null 2>&1; then problem="output file left behind: $(ls "$output"*)"
  elif [ -s "$tmp/stdout" ]; then problem="partial output on stdout: $(head -c 200 "$tmp/stdout")"
  fi
  if [ -n "$problem" ]; then
    echo "FAIL $name: $problem"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(cat "$tmp/stderr")"
    passed=$((passed + 1))
  fi
}

infer() { "$bin" infer --device cpu --model "$golden" --output "$tmp/out.safetensors" "$@"; }
header() { printf "$1" >"$2"; }  # printf-style bytes into a file

# Safetensors inputs.
expect_error missing_input "$tmp/nothing.safetensors" "$tmp/out.safetensors" -- infer --input "$tmp/nothing.safetensors:input"
: >"$tmp/empty.safetensors"
expect_error empty_input "$tmp/empty.safetensors: file is empty" "$tmp/out.safetensors" -- infer --input "$tmp/empty.safetensors:input"
head -c 5 "$golden/golden.safetensors" >"$tmp/short.safetensors"
expect_error short_input "$tmp/short.safetensors" "$tmp/out.safetensors" -- infer --input "$tmp/short.safetensors:input"
head -c 3000000 "$golden/golden.safetensors" >"$tmp/truncated.safetensors"
expect_error truncated_input "$tmp/truncated.safetensors" "$tmp/out.safetensors" -- infer --input "$tmp/truncated.safetensors:input"
header '\xff\xff\xff\x00\x00\x00\x00\x00{}' "$tmp/hugeheader.safetensors"
expect_error header_past_end "$tmp/hugeheader.safetensors" "$tmp/out.safetensors" -- infer --input "$tmp/hugeheader.safetensors:input"
json='{"input":{"dtype":"F32","shape":[1,3,224,224],"data_offsets":[0,999999999]}}'
printf "$(printf '\\x%02x' ${#json})\x00\x00\x00\x00\x00\x00\x00%s" "$json" >"$tmp/offsets.safetensors"
expect_error offsets_out_of_range "$tmp/offsets.safetensors" "$tmp/out.safetensors" -- infer --input "$tmp/offsets.safetensors:input"
json='{"input":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}'
{ printf "$(printf '\\x%02x' ${#json})\x00\x00\x00\x00\x00\x00\x00%s" "$json"; head -c 8 /dev/zero; } >"$tmp/dtype.safetensors"
expect_error unsupported_dtype "C64" "$tmp/out.safetensors" -- infer --input "$tmp/dtype.safetensors:input"
expect_error missing_tensor "no tensor named nope" "$tmp/out.safetensors" -- infer --input "$golden/golden.safetensors:nope"
expect_error wrong_dtype "F64, expected F32" "$tmp/out.safetensors" -- infer --input "$golden/golden.safetensors:logits_f64"
expect_error wrong_shape "expected [B, 3, 224, 224]" "$tmp/out.safetensors" -- infer --input "$golden/golden.safetensors:logits"

# Model folders.
mkdir -p "$tmp/badmodel"
cp "$golden/config.json" "$tmp/badmodel/"
head -c 1000000 "$golden/model.safetensors" >"$tmp/badmodel/model.safetensors"
expect_error truncated_model "$tmp/badmodel/model.safetensors" "$tmp/out.safetensors" -- \
  "$bin" infer --device cpu --model "$tmp/badmodel" --input "$golden/golden.safetensors:input" --output "$tmp/out.safetensors"
mkdir -p "$tmp/archmodel"
ln -s "$golden/model.safetensors" "$tmp/archmodel/model.safetensors"
sed 's/"vit_tiny_patch16_224"/"resnet50"/' "$golden/config.json" >"$tmp/archmodel/config.json"
expect_error unknown_architecture "unknown architecture 'resnet50'" "$tmp/out.safetensors" -- \
  "$bin" infer --device cpu --model "$tmp/archmodel" --input "$golden/golden.safetensors:input" --output "$tmp/out.safetensors"
expect_error missing_model "$tmp/nomodel" "" -- "$bin" classify --device cpu --model "$tmp/nomodel" "$golden/../../data/imagenet/samples/n01440764_tench.JPEG"

# Images.
classify() { "$bin" classify --device cpu --model "$golden" --json "$@"; }
: >"$tmp/empty.jpg"
expect_error empty_image "$tmp/empty.jpg" "" -- classify "$tmp/empty.jpg"
echo "this is not an image" >"$tmp/text.png"
expect_error not_an_image "$tmp/text.png" "" -- classify "$tmp/text.png"
head -c 20000 "$shared/data/imagenet/samples/n01440764_tench.JPEG" >"$tmp/truncated.jpg"
expect_error truncated_jpeg "$tmp/truncated.jpg" "" -- classify "$tmp/truncated.jpg"
python3 - "$tmp/huge.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
expect_error huge_png "$tmp/huge.png" "" -- classify "$tmp/huge.png"
expect_error missing_image "$tmp/none.jpg" "" -- classify "$shared/data/imagenet/samples/n01440764_tench.JPEG" "$tmp/none.jpg"

# Validation data and devices.
expect_error missing_data_dir "$tmp/no-such-dir" "$tmp/val.json" -- \
  "$bin" validate --device cpu --model "$golden" --data "$tmp/no-such-dir" --json "$tmp/val.json"
expect_error unknown_device "--device tpu" "" -- "$bin" classify --device tpu --model "$golden" "$tmp/empty.jpg"
expect_error bad_attention "--attention" "" -- classify --attention "distr:x=1" "$shared/data/imagenet/samples/n01440764_tench.JPEG"

echo "$passed passed, $failures failed"
[ $failures -eq 0 ]
