#!/usr/bin/env python3
"""onnxruntime_cpu.py MODEL.onnx [--threads 2,16]: ONNX Runtime (Python package) CPU latency of a ViT at batch 1
and 32, graph optimisation "all", medians after warm-up; one JSON line per thread count. The same measurement as
onnxruntime_cpu.js, for machines with onnxruntime's Python package instead of node's."""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def median_ms(session, batch, runs):
    x = np.random.default_rng(0).uniform(-1, 1, (batch, 3, 224, 224)).astype(np.float32)
    for _ in range(3):
        session.run(None, {"input": x})
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        session.run(None, {"input": x})
        times.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--threads", default="2")
    args = parser.parse_args()
    for threads in [int(t) for t in args.threads.split(",")]:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        b1, b32 = median_ms(session, 1, 30), median_ms(session, 32, 5)
        print(json.dumps({"engine": f"onnxruntime {ort.__version__}", "threads": threads, "batch1_ms": b1,
                          "batch32_ms": b32, "batch32_images_per_second": 32000.0 / b32}), flush=True)


if __name__ == "__main__":
    main()
