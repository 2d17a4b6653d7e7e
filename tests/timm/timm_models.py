#!/usr/bin/env python3
"""timm architectures (ViT, DeiT, DeiT III, register, global-average-pool and CLIP ViTs), each with seeded random
weights, against distrvit: the same logits from timm's own input tensor (CPU fp32, and CUDA fp16 when distrvit
was built with CUDA and a GPU is present) and the same top-1 from the image files (timm's transform against
distrvit's preprocessing).

    python3 tests/timm/timm_models.py BUILD/bin/distrvit IMAGE_DIR [ARCH...]

Needs torch, timm, safetensors and Pillow. The weights are made to tell models apart: LayerScale gammas in
[0.05, 1] (timm initialises them at 1e-6, which hides the blocks), q/k scaled up so attention is peaked, and the
head scaled to logits of standard deviation 1 on these images. Prints one line per check; exits 1 on a failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import timm
import timm.data
from PIL import Image
from safetensors.torch import load_file, save_file

ARCHITECTURES = [
    "vit_small_patch16_224",
    "deit_small_distilled_patch16_224",
    "deit3_small_patch16_224",  # LayerScale, no class position
    "deit3_base_patch16_384",   # the same at 384 px, crop_pct 1.0
    "vit_base_patch16_reg4_gap_256",  # no class token, 4 registers, patch mean then fc_norm
    "vit_medium_patch16_gap_256",     # norm before the patch mean, no qkv bias, LayerScale
    "vit_betwixt_patch16_reg4_gap_256",  # 10 heads, told by the name
    "vit_base_patch16_clip_224",  # CLIP: norm_pre, LayerNorm eps 1e-5
]
IMAGES = 6
CPU_TOLERANCE = 1e-3  # max |logit difference| at logit std 1: fp32 against timm in float64
GPU_TOLERANCE = 0.05  # fp16
PROBABILITY_TOLERANCE = 0.02  # classify's top-1 probability against timm's, relative, from image files
CLEAR_MARGIN = 0.1  # a top-1 lead (in logits) that preprocessing within one pixel level cannot overturn


def shape_weights(model, inputs):
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".gamma"):
                parameter.uniform_(0.05, 1.0)
            if name.endswith("attn.qkv.weight"):
                width = parameter.shape[1]
                parameter[: 2 * width] *= 4.0
        heads = [model.head] + ([model.head_dist] if getattr(model, "head_dist", None) is not None else [])
        scale = 1.0 / model(inputs).std().item()
        for head in heads:
            head.weight *= scale
            head.bias.normal_(0, 0.1)


# As timm's push_to_hub writes them: model.safetensors and config.json (architecture + pretrained_cfg).
def write_checkpoint(model, arch, folder):
    os.makedirs(folder, exist_ok=True)
    save_file({k: v.contiguous().float() for k, v in model.state_dict().items()},
              os.path.join(folder, "model.safetensors"))
    simple = (str, int, float, list, tuple, type(None))
    config = {"architecture": arch, "num_classes": model.num_classes, "global_pool": model.global_pool,
              "pretrained_cfg": {k: v for k, v in model.pretrained_cfg.items() if isinstance(v, simple)}}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    return result.returncode, result.stdout, result.stderr.strip()


def main():
    distrvit, image_dir = sys.argv[1], sys.argv[2]
    architectures = sys.argv[3:] or ARCHITECTURES
    images = sorted(os.path.join(image_dir, f) for f in os.listdir(image_dir) if f.endswith(".JPEG"))[:IMAGES]
    cuda = torch.cuda.is_available()
    failures = 0

    def check(ok, text):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + text, flush=True)
        failures += 0 if ok else 1

    with tempfile.TemporaryDirectory() as tmp:
        for arch in architectures:
            torch.manual_seed(0)
            model = timm.create_model(arch, pretrained=False).eval()
            transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
            inputs = torch.stack([transform(Image.open(p).convert("RGB")) for p in images])  # [B, 3, H, W]
            shape_weights(model, inputs)
            folder = os.path.join(tmp, arch)
            write_checkpoint(model, arch, folder)
            with torch.no_grad():
                expected = model.double()(inputs.double())  # [B, classes]
            save_file({"input": inputs.contiguous()}, os.path.join(folder, "input.safetensors"))

            devices = [("cpu", CPU_TOLERANCE)] + ([("cuda", GPU_TOLERANCE)] if cuda else [])
            for device, tolerance in devices:
                out = os.path.join(folder, f"logits_{device}.safetensors")
                rc, _, err = run([distrvit, "infer", "--model", folder, "--device", device, "--input",
                                  os.path.join(folder, "input.safetensors") + ":input", "--output", out])
                if rc != 0 and device == "cuda" and "CUDA" in err:
                    print(f"skip {arch} on cuda: {err}")
                    continue
                if rc != 0:
                    check(False, f"{arch} infer on {device}: exit {rc}: {err}")
                    continue
                logits = load_file(out)["logits"].double()
                difference = (logits - expected).abs().max().item()
                same_top1 = bool((logits.argmax(1) == expected.argmax(1)).all())
                check(difference <= tolerance and same_top1,
                      f"{arch} on {device}: max |logit - timm float64| = {difference:.2e} (at most {tolerance}), "
                      f"top-1 {'the same' if same_top1 else 'differs'} for {len(images)} images")

            rc, stdout, err = run([distrvit, "classify", "--model", folder, "--device", "cpu", "--json",
                                   "--topk", "5"] + images)
            if rc != 0:
                check(False, f"{arch} classify: exit {rc}: {err}")
                continue
            probabilities = expected.softmax(1)
            for image, result, p, logit in zip(images, json.loads(stdout), probabilities, expected):
                top2 = logit.topk(2).values
                want = int(p.argmax())
                got = result["top"][0]
                clear = (top2[0] - top2[1]).item() > CLEAR_MARGIN
                close = abs(got["prob"] - p[want].item()) <= PROBABILITY_TOLERANCE * p[want].item()
                ok = close and (got["index"] == want or not clear)
                check(ok, f"{arch} classify {os.path.basename(image)}: top-1 {got['index']} p={got['prob']:.5f}, "
                          f"timm {want} p={p[want].item():.5f}")
    print(f"timm_models: {failures} check(s) failed" if failures else "timm_models: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
