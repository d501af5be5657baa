#!/usr/bin/env python3
"""es-testcam's burned-in block code (its capture time) reads back from real frames
(issue 12: glass-to-glass is read from the decoded picture, not from PDT).

One es-testcam (1280x720, 25 fps); ffmpeg grabs 8 consecutive frames over RTSP and
writes them as 8-bit gray; tests/tools/clockcode.py decodes each. Checks:
  - every frame carries a valid code (sync, end and CRC-16 hold);
  - the first is within a few seconds of this machine's clock (the camera's clock);
  - consecutive frames are one frame interval apart (40 ms at 25 fps; each within
    10..100 ms, their median 30..50 ms): the code is per frame, not a constant;
  - the same frame scaled to 854x480 and JPEG-compressed hard (ffmpeg -q:v 25) still
    decodes to the same time (what a transcoded 480p stream looks like);
  - a frame without a code (a flat gray one) and one with a flipped time bit decode to
    nothing (the decoder can say no).
"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

sys.path.insert(0, os.path.join(h.SOURCE_DIR, "tests", "tools"))
import clockcode  # noqa: E402

W, H, FRAMES = 1280, 720, 8


class ClockCodeTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.ffmpeg = h.require_tool("ffmpeg")
        cls.wd = h.new_workdir("clockcode")
        cls.cam = h.TestCam(cls.wd, audio=False)
        cls.cam.start()
        # Straight to 8-bit gray at the source size: no frame rate conversion, so each
        # frame is one the camera made.
        cls.grab_started = time.time()
        out = subprocess.run(
            [cls.ffmpeg, "-v", "error", "-rtsp_transport", "tcp", "-i", cls.cam.url,
             "-frames:v", str(FRAMES), "-fps_mode", "passthrough", "-f", "rawvideo",
             "-pix_fmt", "gray", "-"], capture_output=True, timeout=h.scaled(20))
        cls.grab_ended = time.time()
        if out.returncode != 0:
            raise RuntimeError(f"ffmpeg could not grab frames: {out.stderr.decode()[-500:]}")
        cls.frames = [out.stdout[i * W * H:(i + 1) * W * H] for i in range(FRAMES)]

    @classmethod
    def tearDownClass(cls):
        cls.cam.stop()
        h.remove_workdir(cls.wd, cls.failed)

    def test_every_frame_has_a_code_near_now(self):
        self.assertEqual(len(self.frames[-1]), W * H, "ffmpeg gave fewer frames than asked")
        times = [clockcode.decode(f, W, H) for f in self.frames]
        self.assertNotIn(None, times, f"frames without a valid code: {times}")
        # The camera's clock is this machine's: the first frame was captured during the grab.
        self.assertLess(abs(times[0] / 1000 - self.grab_started), 5,
                        f"code {times[0]} vs grab at {self.grab_started:.3f}")
        steps = [b - a for a, b in zip(times, times[1:])]
        for s in steps:
            self.assertTrue(10 <= s <= 100, f"frame steps {steps} ms")
        self.assertTrue(30 <= statistics.median(steps) <= 50, f"frame steps {steps} ms")

    def test_scaled_and_compressed_copy_decodes_the_same(self):
        want = clockcode.decode(self.frames[0], W, H)
        jpg = os.path.join(self.wd, "small.jpg")
        with open(os.path.join(self.wd, "frame0.gray"), "wb") as f:
            f.write(self.frames[0])
        subprocess.run([self.ffmpeg, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray",
                        "-s", f"{W}x{H}", "-i", f.name, "-vf", "scale=854:480",
                        "-q:v", "25", jpg], check=True, timeout=30)
        self.assertEqual(clockcode.decode_file(jpg), want)

    def test_no_code_and_a_damaged_code_decode_to_nothing(self):
        self.assertIsNone(clockcode.decode(bytes([128]) * (W * H), W, H))
        # Flip the last time bit (cell 45: row 17, column 13) by painting its cell.
        frame = bytearray(self.frames[0])
        means = clockcode.cell_means(frame, W, H)
        paint = 16 if means[45] > 128 else 235
        x0, x1 = 13 * W // 32, 14 * W // 32
        for y in range(17 * H // 18, H):
            frame[y * W + x0:y * W + x1] = bytes([paint]) * (x1 - x0)
        self.assertIsNone(clockcode.decode(bytes(frame), W, H))
        with self.assertRaises(ValueError):
            clockcode.decode(b"\0" * 10, W, H)


if __name__ == "__main__":
    h.run_tests()
