#!/usr/bin/env python3
"""slice_safetensors.py IN OUT ROWS NAME...: keeps the first ROWS rows of the named tensors (standard library only)."""
import json
import struct
import sys


def main():
    source, target, rows, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    with open(source, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    out_header, chunks, offset = {}, [], 0
    for name in names:
        info = header[name]
        begin, end = info["data_offsets"]
        row_bytes = (end - begin) // info["shape"][0]
        chunk = data[begin:begin + rows * row_bytes]
        out_header[name] = {"dtype": info["dtype"], "shape": [rows] + info["shape"][1:],
                            "data_offsets": [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    encoded = json.dumps(out_header, sort_keys=True).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(target, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


if __name__ == "__main__":
    main()
