#!/usr/bin/env python3
"""How far timm + PyTorch itself lands from the float64 golden logits in each precision, on the GPU:
the yardstick for our own fp16/bf16 errors (a kernel is fine when its error is at most about twice that
of a same-precision reference).

    DISTRVIT_SHARED=.gpu/shared python3 bench/torch_golden_error.py

For every golden folder present: weights into timm's model, the golden `input`, max |logits - logits_f64|
and top-1 agreement, for the model cast to fp32 (TF32 off), fp16 and bf16, and for fp32 weights under
torch.autocast (AMP) in fp16 and bf16.
"""
import json
import os
import sys

import torch
import timm
from safetensors.torch import load_file

NAMES = ["vit_tiny_patch16_224", "deit_small_patch16_224", "vit_tiny_patch16_224.augreg_in21k_ft_in1k"]


def main():
    shared = os.environ.get("DISTRVIT_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"{'model':<44} {'precision':<10} {'max |d logit|':>14} {'top-1 diff':>10}")
    for name in NAMES:
        golden_dir = os.path.join(shared, "golden", name)
        model_dir = golden_dir if os.path.exists(os.path.join(golden_dir, "model.safetensors")) else \
            os.path.join(shared, "models", name)
        if not os.path.exists(os.path.join(golden_dir, "golden.safetensors")) or not os.path.isdir(model_dir):
            print(f"{name:<44} skipped (missing)")
            continue
        with open(os.path.join(model_dir, "config.json")) as f:
            arch = json.load(f)["architecture"]
        model = timm.create_model(arch, pretrained=False, num_classes=1000)
        state = {k: v.float() for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
        model.load_state_dict(state)
        model = model.cuda().eval()
        golden = load_file(os.path.join(golden_dir, "golden.safetensors"))
        x = golden["input"].cuda()
        ref = golden["logits_f64"].cuda()
        runs = [("fp32", torch.float32, None), ("fp16", torch.float16, None), ("bf16", torch.bfloat16, None),
                ("amp-fp16", torch.float32, torch.float16), ("amp-bf16", torch.float32, torch.bfloat16)]
        for label, dtype, autocast in runs:
            m = model.to(dtype)
            with torch.inference_mode():
                if autocast is not None:
                    with torch.autocast("cuda", dtype=autocast):
                        out = m(x.to(dtype))
                else:
                    out = m(x.to(dtype))
            out = out.double()
            d = (out - ref).abs().max().item()
            top1 = (out.argmax(1) != ref.argmax(1)).sum().item()
            print(f"{name:<44} {label:<10} {d:>14.4e} {top1:>10d}")
        model = model.float()
    return 0


if __name__ == "__main__":
    sys.exit(main())
