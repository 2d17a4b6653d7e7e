#!/usr/bin/env python3
"""timm + PyTorch reference timings on the GPU, to set beside `distrvit bench --device cuda` (or on the CPU with
`--device cpu --threads N --dtype fp32 --modes eager`, beside `distrvit bench --device cpu --threads N`).

For each model and batch size: PyTorch eager and torch.compile, fp16 weights and inputs, random weights
(speed does not depend on them), the input already on the device (a preprocessed tensor). Each timing is
the median over `--iters` forwards of CUDA events around one forward, after warm-up.

    python3 bench/bench_torch.py --models vit_tiny_patch16_224,vit_base_patch16_224 --batches 1,8,64,256 \
        --modes eager,compile --compile-mode max-autotune --json torch.json

--budget-s stops starting new configurations once that much wall time has passed (compiling is slow);
skipped configurations are listed at the end.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import timm


def time_forward(fn, x, warmup, iters):
    for _ in range(warmup):
        fn(x)
    if not x.is_cuda:
        times = []
        for _ in range(iters):
            began = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - began) * 1000.0)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(iters):
        start.record()
        fn(x)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="vit_tiny_patch16_224,vit_base_patch16_224")
    parser.add_argument("--batches", default="1,8,64,256")
    parser.add_argument("--modes", default="eager,compile")
    parser.add_argument("--compile-mode", default="max-autotune",
                        help="torch.compile mode: default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs")
    parser.add_argument("--dtype", default="fp16", choices=["fp16", "bf16", "fp32"])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (torch.set_num_threads); 0 = torch's")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--budget-s", type=float, default=1e9)
    parser.add_argument("--json", default="")
    args = parser.parse_args()

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    torch.backends.cuda.matmul.allow_tf32 = False
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    began = time.time()
    if args.device == "cuda":
        device = torch.cuda.get_device_name(0)
    else:
        device = f"cpu ({torch.get_num_threads()} threads)"
    print(f"# {device}, torch {torch.__version__}, timm {timm.__version__}, {args.dtype}", flush=True)
    print(f"{'model':<24} {'mode':<28} {'batch':>6} {'median ms':>10} {'images/s':>12}", flush=True)
    results, skipped = [], []
    for name in args.models.split(","):
        model = timm.create_model(name, pretrained=False).to(args.device, dtype).eval()
        for mode in args.modes.split(","):
            label = mode if mode == "eager" else f"compile({args.compile_mode})"
            fn = model if mode == "eager" else torch.compile(model, mode=args.compile_mode, dynamic=False)
            for batch in [int(b) for b in args.batches.split(",")]:
                if time.time() - began > args.budget_s:
                    skipped.append(f"{name} {label} batch {batch}")
                    continue
                x = torch.randn(batch, 3, model.default_cfg["input_size"][1], model.default_cfg["input_size"][2],
                                device=args.device, dtype=dtype)
                with torch.inference_mode():
                    compile_began = time.time()
                    fn(x)  # compiles for this shape
                    if args.device == "cuda":
                        torch.cuda.synchronize()
                    first_s = time.time() - compile_began
                    ms = time_forward(fn, x, args.warmup, args.iters)
                ips = batch / (ms / 1000.0)
                print(f"{name:<24} {label:<28} {batch:>6} {ms:>10.3f} {ips:>12.1f}   (first call {first_s:.1f} s)",
                      flush=True)
                results.append({"model": name, "mode": label, "batch": batch, "median_ms": ms,
                                "images_per_second": ips, "dtype": args.dtype, "device": device,
                                "torch": torch.__version__, "timm": timm.__version__})
        del model
        if args.device == "cuda":
            torch.cuda.empty_cache()
    for s in skipped:
        print(f"skipped (time budget): {s}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
