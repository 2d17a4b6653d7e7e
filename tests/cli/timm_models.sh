#!/usr/bin/env bash
# timm's ViT, distilled DeiT, DeiT III and register / average-pool ViTs (random weights, made by timm) give the
# same logits and top-1 in distrvit as in timm: tests/timm/timm_models.py. Skipped where timm is not installed (CI).
set -uo pipefail
bin=${DISTRVIT_BIN:?set DISTRVIT_BIN to the build/bin folder}
root=${DISTRVIT_ROOT:?set DISTRVIT_ROOT to the source tree}
samples=${DISTRVIT_SHARED:-$root/../shared}/data/imagenet/samples
if ! missing=$(python3 -c 'import torch, timm, safetensors, PIL' 2>&1); then
  echo "SKIP timm_models: torch, timm, safetensors and Pillow are needed (${missing##*$'\n'})"
  exit 77
fi
[ -d "$samples" ] || { echo "SKIP timm_models: sample images not found at $samples"; exit 77; }
exec python3 "$root/tests/timm/timm_models.py" "$bin/distrvit" "$samples"
