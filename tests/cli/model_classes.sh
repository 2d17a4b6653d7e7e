#!/usr/bin/env bash
# A checkpoint's own classes, end to end: a 10-class head with timm's label_names is classified under those names
# (not ImageNet's), `validate` refuses it with one error line and writes no report, and a model without a class
# token (patch-mean pooling, 4 registers) classifies from the command line.
set -uo pipefail
source "$(dirname "$0")/../gui/lib.sh"
gui_test_setup model_classes "$bin/distrvit" python3
distrvit() { "$bin/distrvit" "$@" --device cpu; }

# make_checkpoint OUT KIND: the real model's weights, rewritten by the standard library only.
make_checkpoint() {
  python3 - "$model" "$1" "$2" <<'PY'
import json, os, struct, sys
source, out, kind = sys.argv[1:]
blob = open(os.path.join(source, "model.safetensors"), "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
header, data = json.loads(blob[8:8 + n]), blob[8 + n:]
tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
           for k, v in header.items() if k != "__metadata__"}
config = json.load(open(os.path.join(source, "config.json")))
if kind == "ten":
    for name in ("head.weight", "head.bias"):
        dtype, shape, raw = tensors[name]
        tensors[name] = (dtype, [10] + shape[1:], raw[:len(raw) // shape[0] * 10])
    config["num_classes"] = 10
    config["pretrained_cfg"]["num_classes"] = 10
    config["label_names"] = [f"digit {i}" for i in range(10)]
else:  # no class token, 4 registers, patch mean then fc_norm
    dtype, shape, raw = tensors.pop("cls_token")
    tensors["reg_token"] = (dtype, [1, 4, shape[2]], raw * 4)
    dtype, shape, raw = tensors["pos_embed"]
    tensors["pos_embed"] = (dtype, [1, shape[1] - 1, shape[2]], raw[len(raw) // shape[1]:])
    tensors["fc_norm.weight"] = tensors.pop("norm.weight")
    tensors["fc_norm.bias"] = tensors.pop("norm.bias")
    config["global_pool"] = "avg"
header, chunks, offset = {}, [], 0
for name, (dtype, shape, raw) in tensors.items():
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
    chunks.append(raw)
    offset += len(raw)
encoded = json.dumps(header).encode()
encoded += b" " * (-len(encoded) % 8)
os.makedirs(out)
open(os.path.join(out, "model.safetensors"), "wb").write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))
json.dump(config, open(os.path.join(out, "config.json"), "w"))
PY
}

make_checkpoint "$tmp/ten" ten || exit 1
distrvit classify --model "$tmp/ten" --json --topk 3 "$samples/n01440764_tench.JPEG" >"$tmp/ten.json" 2>"$tmp/err"
check "10 classes: classify exits 0 ($(cat "$tmp/err"))" test $? -eq 0
check "10 classes: the top 3 are named by label_names" python3 - "$tmp/ten.json" <<'PY'
import json, sys
top = json.load(open(sys.argv[1]))[0]["top"]
assert len(top) == 3 and all(t["label"] == f"digit {t['index']}" and t["index"] < 10 for t in top), top
PY

mkdir -p "$tmp/data/n01440764"
cp "$samples/n01440764_tench.JPEG" "$tmp/data/n01440764/"
distrvit validate --model "$tmp/ten" --data "$tmp/data" --json "$tmp/report.json" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check_failed_run "10 classes: validate" \
  "distrvit: error: $tmp/ten: the model has 10 classes, and images are labelled by ImageNet-1k's 1000"
check "10 classes: validate wrote no report" test ! -e "$tmp/report.json"

make_checkpoint "$tmp/gap" gap || exit 1
distrvit classify --model "$tmp/gap" --json "$samples/n01440764_tench.JPEG" >"$tmp/gap.json" 2>"$tmp/err"
check "patch mean + registers: classify exits 0 ($(cat "$tmp/err"))" test $? -eq 0
check "patch mean + registers: ImageNet names for its 1000 classes" python3 - "$tmp/gap.json" <<'PY'
import json, sys
top = json.load(open(sys.argv[1]))[0]["top"]
assert len(top) == 5 and all(t["label"] and not t["label"].startswith("class ") for t in top), top
PY
finish
