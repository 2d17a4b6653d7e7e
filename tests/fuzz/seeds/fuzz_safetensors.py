#!/usr/bin/env python3
"""fuzz_safetensors.py CORPUS_DIR: writes small safetensors seed files (valid ones of every dtype, and a few broken
ones) into the corpus, so that no binary seed is committed."""
import json
import os
import struct
import sys


def safetensors(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main():
    corpus = sys.argv[1]
    os.makedirs(corpus, exist_ok=True)
    seeds = {
        "f32": safetensors({"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}},
                           struct.pack("<4f", 1.0, -2.5, 3.25, 0.0)),
        "f16": safetensors({"h": {"dtype": "F16", "shape": [6], "data_offsets": [0, 12]}},
                           bytes.fromhex("003c00c0ff7b0100007c007e")),
        "bf16": safetensors({"b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}},
                            bytes.fromhex("803f00c0807f0100")),
        "f64": safetensors({"d": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}, struct.pack("<2d", 1e-300, -7.0)),
        "ints": safetensors({"i": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
                             "l": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
                             "u": {"dtype": "U8", "shape": [3], "data_offsets": [16, 19]}},
                            struct.pack("<2iq", -1, 7, 1 << 40) + b"\x00\x7f\xff"),
        "mixed_unpadded": safetensors({"__metadata__": {"k": "v", "n": ""},
                                       "a.weight": {"dtype": "F16", "shape": [1, 2], "data_offsets": [0, 4]},
                                       "a.bias": {"dtype": "F32", "shape": [], "data_offsets": [4, 8]},
                                       "empty": {"dtype": "BF16", "shape": [0, 3], "data_offsets": [8, 8]}},
                                      bytes.fromhex("003c0040") + struct.pack("<f", 0.5), pad=False),
        "bad_dtype": safetensors({"q": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"),
        "overlap": safetensors({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                                "b": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\x01\x02"),
        "truncated": safetensors({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, struct.pack("<f", 1.0)),
    }
    for name, blob in seeds.items():
        with open(os.path.join(corpus, name + ".safetensors"), "wb") as f:
            f.write(blob)


if __name__ == "__main__":
    main()
