#!/usr/bin/env python3
"""PyTorch SDPA baseline for bench/attention_bench.cu: FlashAttention-2 and cuDNN backends, same shapes.

Layouts: 'qkv' = q/k/v as strided views of one fused [B, N, 3, H, D] tensor (what distrvit reads),
'bhnd' = contiguous [B, H, N, D] tensors (the usual benchmark layout). Each call is bracketed by its own
CUDA events; median of --reps; inputs rotate over enough random sets to exceed 256 MB (beyond L2).

    python3 bench/attention_torch.py [--dtype f16|bf16] [--reps 50] [--shapes 64x12x197x64,...]
"""
import argparse

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

SHAPES = "64x12x197x64,16x12x577x64,4x12x1025x64,1x12x4097x64,2x16x8192x64,1x16x16384x128"


def time_calls(fn, sets, warmup, reps):
    for i in range(warmup):
        fn(i % sets)
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for i, (start, end) in enumerate(events):
        start.record()
        fn(i % sets)
        end.record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in events)
    return ms[reps // 2], ms[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="f16", choices=["f16", "bf16"])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--shapes", default=SHAPES)
    args = ap.parse_args()
    dtype = torch.float16 if args.dtype == "f16" else torch.bfloat16
    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"cuDNN {torch.backends.cudnn.version()}; dtype {args.dtype}; median of {args.reps}")
    rows = []
    for shape in args.shapes.split(","):
        B, H, N, D = map(int, shape.split("x"))
        flops = 4.0 * B * H * N * N * D
        qkv_bytes = B * N * 3 * H * D * 2
        sets = max(1, min(8, -(-(256 << 20) // qkv_bytes)))
        qkv = [torch.randn(B, N, 3, H, D, device=dev, dtype=dtype) for _ in range(sets)]
        views = {
            "qkv": [tuple(t[:, :, i].transpose(1, 2) for i in range(3)) for t in qkv],  # [B,H,N,D] strided
            "bhnd": [tuple(t[:, :, i].transpose(1, 2).contiguous() for i in range(3)) for t in qkv],
        }
        cells = {}
        for backend, bname in ((SDPBackend.FLASH_ATTENTION, "fa2"), (SDPBackend.CUDNN_ATTENTION, "cudnn")):
            for layout in ("qkv", "bhnd"):
                name = f"{bname}/{layout}"
                try:
                    with sdpa_kernel(backend):
                        med, mn = time_calls(lambda s: F.scaled_dot_product_attention(*views[layout][s]), sets,
                                             args.warmup, args.reps)
                    cells[name] = f"{med:.3f} / {flops / med * 1e-9:.0f}"
                    print(f"{shape:16s} {name:12s} {med:9.4f} ms (min {mn:9.4f})  {flops / med * 1e-9:7.1f} TFLOP/s",
                          flush=True)
                except Exception as e:  # noqa: BLE001 - report and go on
                    cells[name] = "-"
                    print(f"{shape:16s} {name:12s} ERROR {str(e).splitlines()[0][:160]}", flush=True)
        rows.append(f"| {shape} | {cells['fa2/qkv']} | {cells['fa2/bhnd']} | {cells['cudnn/qkv']} | "
                    f"{cells['cudnn/bhnd']} |")
        del qkv, views
        torch.cuda.empty_cache()
    print(f"\nms / TFLOP/s ({torch.cuda.get_device_name()}, {args.dtype}, PyTorch SDPA)")
    print("| B x H x N x d | FA2 (qkv views) | FA2 (contiguous) | cuDNN (qkv views) | cuDNN (contiguous) |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
