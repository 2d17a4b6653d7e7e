"""Pixel checks on distrvit-gui screenshots (PNG decoded by ffmpeg; no third-party Python modules).

  screenshot_check.py busy PNG [X Y W H]      the image (or region) is not blank: many colours, real contrast
  screenshot_check.py differ A.png B.png X Y W H   the region differs between two screenshots
  screenshot_check.py red PNG X Y W H         the region holds red text (how the GUI draws errors)
  screenshot_check.py points PNG X Y W H N    the region holds N or more sweep chart points (orange discs)
"""
import struct
import subprocess
import sys


def load(path):
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", header[16:24])
    rgb = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", path, "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    if len(rgb) != width * height * 3:
        sys.exit(f"{path}: decoded {len(rgb)} bytes, expected {width}x{height}x3")
    return width, height, rgb


def region(image, x, y, w, h):
    width, height, rgb = image
    x, y = max(0, x), max(0, y)
    w, h = min(w, width - x), min(h, height - y)
    return [rgb[((y + row) * width + x) * 3:((y + row) * width + x + w) * 3] for row in range(h)]


def busy(path, box):
    image = load(path)
    rows = region(image, *box) if box else region(image, 0, 0, image[0], image[1])
    pixels = b"".join(rows)
    stride = 3 * max(1, len(pixels) // 3 // 200000)  # at most ~200k pixels: plain Python is slow
    colours = {pixels[i:i + 3] for i in range(0, len(pixels), stride)}
    luma = [pixels[i] * 0.299 + pixels[i + 1] * 0.587 + pixels[i + 2] * 0.114 for i in range(0, len(pixels), stride)]
    mean = sum(luma) / len(luma)
    deviation = (sum((v - mean) ** 2 for v in luma) / len(luma)) ** 0.5
    print(f"{path} {box or 'whole'}: {len(colours)} colours, luma mean {mean:.1f}, deviation {deviation:.1f}")
    return len(colours) >= 64 and deviation >= 8


def differ(path_a, path_b, box):
    a, b = load(path_a), load(path_b)
    if a[:2] != b[:2]:
        sys.exit(f"{path_a} and {path_b} differ in size")
    rows_a, rows_b = region(a, *box), region(b, *box)
    total = sum(len(row) // 3 for row in rows_a)
    changed = sum(1 for ra, rb in zip(rows_a, rows_b) for i in range(0, len(ra), 3) if ra[i:i + 3] != rb[i:i + 3])
    print(f"region {box}: {changed} of {total} pixels differ ({100.0 * changed / max(total, 1):.2f} %)")
    return changed >= 0.005 * total


def red(path, box):
    rows = region(load(path), *box)
    count = sum(1 for row in rows for i in range(0, len(row), 3)
                if row[i] > 180 and row[i + 1] < 140 and row[i + 2] < 140)
    print(f"{path} {box}: {count} red pixels")
    return count >= 100


def points(path, box, wanted):
    # Each point is a filled disc of (255, 170, 60); count connected blobs of that colour.
    rows = region(load(path), *box)
    hits = {(x // 3, y) for y, row in enumerate(rows) for x in range(0, len(row), 3)
            if abs(row[x] - 255) < 20 and abs(row[x + 1] - 170) < 25 and abs(row[x + 2] - 60) < 25}
    blobs, seen = 0, set()
    for start in hits:
        if start in seen:
            continue
        blobs += 1
        stack = [start]
        while stack:
            x, y = stack.pop()
            if (x, y) in seen or (x, y) not in hits:
                continue
            seen.add((x, y))
            stack.extend([(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)])
    print(f"{path} {box}: {blobs} chart points")
    return blobs >= wanted


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "busy":
        ok = busy(args[0], [int(v) for v in args[1:5]] if len(args) >= 5 else None)
    elif command == "differ":
        ok = differ(args[0], args[1], [int(v) for v in args[2:6]])
    elif command == "red":
        ok = red(args[0], [int(v) for v in args[1:5]])
    elif command == "points":
        ok = points(args[0], [int(v) for v in args[1:5]], int(args[5]))
    else:
        sys.exit(f"unknown check {command}")
    sys.exit(0 if ok else 1)


main()
