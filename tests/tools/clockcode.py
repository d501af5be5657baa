#!/usr/bin/env python3
"""Reads es-testcam's burned-in block code (its capture time) from a frame.

The layout is in tests/tools/testcam.c's header: a 32 x 18 grid of cells over
the frame, the code in the two bottom rows (64 cells): 1 0 1 0 (sync and
level references), 42 bits of ms since the Unix epoch, a CRC-16/CCITT-FALSE of
them, then 0 1. web/e2e/lib/clock.mjs is the browser's reader of the same code.

Standard library only. Takes 8-bit gray (luma) pixels, as ffmpeg writes them:

    ffmpeg -i frame.jpg -f rawvideo -pix_fmt gray -

As a program: clockcode.py IMAGE [IMAGE...] prints, per image, its capture
time in ms since the epoch (or "none"), using ffprobe/ffmpeg to decode it.
"""
import json
import subprocess
import sys

COLS, ROWS, FIRST_ROW, CELLS, TIME_BITS = 32, 18, 16, 64, 42
SYNC = (1, 0, 1, 0)
END = (0, 1)
MIN_CONTRAST = 48  # white - black, in luma steps: less is no code at all


def crc16(ms):
    crc = 0xFFFF
    for byte in (ms >> (8 * i) & 0xFF for i in range(5, -1, -1)):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def cell_means(gray, width, height):
    """The mean luma of the centre half of each of the 64 cells."""
    means = []
    for i in range(CELLS):
        col, row = i % COLS, FIRST_ROW + i // COLS
        x0, x1 = col * width / COLS, (col + 1) * width / COLS
        y0, y1 = row * height / ROWS, (row + 1) * height / ROWS
        cx0, cx1 = int(x0 + (x1 - x0) / 4), int(x1 - (x1 - x0) / 4)
        cy0, cy1 = int(y0 + (y1 - y0) / 4), int(y1 - (y1 - y0) / 4)
        total = count = 0
        for y in range(cy0, max(cy1, cy0 + 1)):
            line = gray[y * width + cx0:y * width + max(cx1, cx0 + 1)]
            total += sum(line)
            count += len(line)
        means.append(total / count if count else 0.0)
    return means


def decode(gray, width, height):
    """The capture time (ms since the epoch) coded in a width x height gray
    frame (bytes, one per pixel, rows without padding), or None when there is
    no valid code (no contrast, wrong sync or end, CRC mismatch)."""
    if len(gray) < width * height:
        raise ValueError(f"gray frame holds {len(gray)} bytes, {width}x{height} needs {width * height}")
    m = cell_means(gray, width, height)
    white, black = (m[0] + m[2]) / 2, (m[1] + m[3]) / 2
    if white - black < MIN_CONTRAST:
        return None
    threshold = (white + black) / 2
    bits = [1 if v > threshold else 0 for v in m]
    if tuple(bits[0:4]) != SYNC or tuple(bits[62:64]) != END:
        return None
    ms = 0
    for b in bits[4:4 + TIME_BITS]:
        ms = ms << 1 | b
    crc = 0
    for b in bits[46:62]:
        crc = crc << 1 | b
    return ms if crc == crc16(ms) else None


def frame_size(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "json", path],
        capture_output=True, text=True, check=True, timeout=30).stdout
    s = json.loads(out)["streams"][0]
    return int(s["width"]), int(s["height"])


def decode_file(path):
    """Decodes the first frame of an image or video file (ffmpeg does the reading)."""
    width, height = frame_size(path)
    gray = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "gray", "-"], capture_output=True, check=True, timeout=30).stdout
    return decode(gray, width, height)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        ms = decode_file(path)
        print(f"{path}\t{ms if ms is not None else 'none'}")
        bad += ms is None
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
