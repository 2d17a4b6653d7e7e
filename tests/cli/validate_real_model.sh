#!/usr/bin/env bash
# validate with the real ViT-Ti/16 on val-1300 reproduces timm's top-1 (82.62 %) within 0.3 points,
# writes the JSON summary, and classify --json has the documented shape.
set -euo pipefail
bin=${DISTRVIT_BIN:?}/distrvit
shared=${DISTRVIT_SHARED:-${DISTRVIT_ROOT:?}/../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" validate --device cpu --data "$shared/data/imagenet/val-1300" --json "$tmp/val.json" --csv "$tmp/val.csv"
python3 - "$tmp/val.json" "$tmp/val.csv" <<'PY'
import csv, json, sys
result = json.load(open(sys.argv[1]))
print("top1 %.2f top5 %.2f images %d images/s %.1f" % (result["top1"], result["top5"], result["images"], result["images_per_second"]))
assert result["images"] == 1300, result["images"]
assert abs(result["top1"] - 82.62) <= 0.3, result["top1"]
assert abs(result["top5"] - 96.00) <= 0.5, result["top5"]
assert result["images_per_second"] > 0
rows = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == 1 and rows[0]["attention"] == "exact"
assert rows[0]["agreement"] == "" and rows[0]["mean_kl"] == "", rows[0]  # the reference is not compared with itself
assert "agreement_with_reference" not in result["configs"][0], result["configs"][0]
PY

samples="$shared/data/imagenet/samples"
"$bin" classify --device cpu --json --topk 3 "$samples/n02391049_zebra.JPEG" "$samples/n01440764_tench.JPEG" >"$tmp/classify.json"
python3 - "$tmp/classify.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
assert [r["image"].rsplit("/", 1)[1] for r in results] == ["n02391049_zebra.JPEG", "n01440764_tench.JPEG"]
assert all(len(r["top"]) == 3 for r in results)
assert results[0]["top"][0]["index"] == 340 and results[0]["top"][0]["label"] == "zebra", results[0]
assert results[1]["top"][0]["index"] == 0 and results[1]["top"][0]["label"] == "tench", results[1]
assert all(0 < t["prob"] <= 1 for r in results for t in r["top"])
print("classify --json ok")
PY
