"""Clip export (docs/recording.md, "Clips"), against the real daemon and test camera:
record ~30 s of a passed-through camera (1 s segments), then ask for
/vod/<camera>/clip.mp4 of a 20 s range that starts mid-segment.

- the answer is one MP4 (video/mp4, attachment), its top-level boxes put moov before
  mdat (seekable without reading to the end), ffprobe's duration is within one segment
  of 20 s, its first video packet is a keyframe, ffmpeg decodes all of it without an
  error and seeks into it;
- its first frame is the first frame of the recorded segment that holds `start` (the
  burned-in clocks match), its last frame is no later than `end`;
- bad parameters are 400 with a body naming the problem, a range with nothing recorded
  is 404, a range over 5 minutes is 400; /metrics counts the export and its remux time;
- sharing (POST) with no remote store configured is 409 (test_clip_share.py shares)."""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import clockcode  # noqa: E402
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import record_harness as rh  # noqa: E402

CAM = "cam1"
SEGMENT = 1.0


def top_level_boxes(data):
    """[(type, offset, size)] of an MP4's top-level boxes (ISO/IEC 14496-12 §4.2)."""
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8:at + 16])[0]
        elif size == 0:
            size = len(data) - at
        if size < 8:
            raise AssertionError(f"box {kind!r} at {at} has size {size}")
        boxes.append((kind.decode("latin-1"), at, size))
        at += size
    if at != len(data):
        raise AssertionError(f"boxes end at {at}, the file at {len(data)}")
    return boxes


def ffprobe_json(path, *args):
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, path],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return json.loads(out)


class Clip(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        h.require_tool("ffmpeg")
        h.require_tool("ffprobe")
        cls.wd = h.new_workdir("clip")
        cls.cam = h.TestCam(cls.wd, extra_args=["--gop", "25"])
        cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        cls.cam_dir = os.path.join(cls.root, CAM)
        config = rh.write_config(os.path.join(cls.wd, "cameras.yaml"), cls.cam.url, cls.root,
                                 transcode="copy", segment_duration=SEGMENT)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)

        def enough():
            names = rh.files_on_disk(cls.cam_dir)
            return len(names) >= 27
        h.wait_for(enough, h.scaled(60), interval=0.5, what="27 recorded segments")
        names = sorted(rh.files_on_disk(cls.cam_dir), key=lambda n: rh.parse_name(n)[2])
        # Start inside the third segment (the first follows the connect), 20 s long.
        cls.start_seg = names[2]
        seg_start, _, _, _ = rh.parse_name(cls.start_seg)
        cls.start = seg_start + 0.4
        cls.end = cls.start + 20.0
        before = cls.metrics()
        t0 = time.monotonic()
        cls.status, cls.headers, cls.body = oh.request(cls.clip_url(cls.start, cls.end),
                                                       timeout=h.scaled(60))
        cls.wall = time.monotonic() - t0
        cls.after = cls.metrics()
        cls.before = before
        cls.path = os.path.join(cls.wd, "clip.mp4")
        with open(cls.path, "wb") as f:
            f.write(cls.body)

    @classmethod
    def clip_url(cls, start, end, **extra):
        q = {"start": rh.iso_z(start), "end": rh.iso_z(end), **extra}
        return f"{cls.base}vod/{CAM}/clip.mp4?" + urllib.parse.urlencode(q)

    @classmethod
    def metrics(cls):
        return oh.request(f"{cls.base}metrics")[2].decode()

    def test_answer_is_an_mp4_attachment(self):
        self.assertEqual(self.status, 200, self.body[:300])
        self.assertEqual(self.headers.get("content-type"), "video/mp4")
        self.assertRegex(self.headers.get("content-disposition", ""),
                         r'^attachment; filename="cam1_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.mp4"$')
        self.assertIn("no-store", self.headers.get("cache-control", ""))

    def test_moov_before_mdat(self):
        kinds = [k for k, _, _ in top_level_boxes(self.body)]
        self.assertEqual(kinds[0], "ftyp", kinds)
        self.assertIn("moov", kinds)
        self.assertIn("mdat", kinds)
        self.assertLess(kinds.index("moov"), kinds.index("mdat"), kinds)

    def test_duration_within_one_segment_of_20_s(self):
        fmt = ffprobe_json(self.path, "-show_format")["format"]
        duration = float(fmt["duration"])
        print(f"clip of 20 s (start {self.start - rh.parse_name(self.start_seg)[0]:.1f} s into "
              f"a segment): {duration:.3f} s, {len(self.body)} bytes, answered in "
              f"{self.wall * 1000:.0f} ms")
        self.assertLessEqual(abs(duration - 20.0), SEGMENT)

    def test_starts_with_a_keyframe(self):
        pk = ffprobe_json(self.path, "-select_streams", "v:0", "-show_packets",
                          "-read_intervals", "%+#1")["packets"]
        self.assertTrue(pk, "no video packet")
        self.assertIn("K", pk[0]["flags"], pk[0])
        self.assertNotIn("D", pk[0]["flags"], "the keyframe is cut by the edit list")
        fr = ffprobe_json(self.path, "-select_streams", "v:0", "-show_frames",
                          "-read_intervals", "%+#5")["frames"]
        self.assertEqual(fr[0]["pict_type"], "I", fr[0])

    def test_decodes_and_seeks(self):
        r = subprocess.run(["ffmpeg", "-v", "error", "-i", self.path, "-f", "null", "-"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(r.stderr.strip(), "", r.stderr[-2000:])
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "12", "-i", self.path,
                                "-frames:v", "1", f.name], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreater(os.path.getsize(f.name), 1000)
            # The seek lands 12 s in: the picture's clock is 12 s after the first frame's
            # (give or take a GOP, where the seek may snap to, and the camera's jitter).
            first = clockcode.decode_file(self.path)
            at = clockcode.decode_file(f.name)
            self.assertIsNotNone(first)
            self.assertIsNotNone(at)
            print(f"seek to 12 s shows the clock {(at - first) / 1000:.3f} s after the first frame")
            self.assertGreater(at, first + 5000)

    def test_first_frame_is_the_recorded_segments_first(self):
        seg_path = os.path.join(self.cam_dir, rh.rel_path(self.start_seg))
        self.assertEqual(clockcode.decode_file(self.path), clockcode.decode_file(seg_path))

    def test_bad_parameters(self):
        now = time.time()
        cases = [
            (f"{self.base}vod/{CAM}/clip.mp4", "needs start="),
            (f"{self.base}vod/{CAM}/clip.mp4?start={rh.iso_z(now - 10)}", "needs start="),
            (self.clip_url(now - 10, now - 20), "end= must be after start="),
            (self.clip_url(now - 400, now - 10), "at most 5 minutes"),
            (self.clip_url(now - 20, now - 10, upload="1"), "unknown parameter"),
            (f"{self.base}vod/{CAM}/clip.mp4?start=soon&end={rh.iso_z(now)}",
             "start= is not an ISO 8601 time"),
        ]
        for url, words in cases:
            with self.subTest(url=url):
                status, _, body = oh.request(url)
                self.assertEqual(status, 400, body)
                self.assertIn(words, body.decode())
        status, _, body = oh.request(self.clip_url(now - 86400 * 3, now - 86400 * 3 + 20))
        self.assertEqual(status, 404, body)
        self.assertIn("nothing recorded", body.decode())

    def test_sharing_without_a_remote_store_is_409(self):
        now = time.time()
        status, _, body = oh.request(self.clip_url(now - 20, now - 10), method="POST")
        self.assertEqual(status, 409, body)
        self.assertIn("no remote storage", body.decode())

    def test_metrics_count_the_export(self):
        def value(text, name):
            return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))
        exports = (value(self.after, "edgestream_clip_exports_total")
                   - value(self.before, "edgestream_clip_exports_total"))
        seconds = (value(self.after, "edgestream_clip_remux_seconds_total")
                   - value(self.before, "edgestream_clip_remux_seconds_total"))
        self.assertEqual(exports, 1)
        self.assertGreater(seconds, 0)
        print(f"remux of the 20 s clip on the media worker: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    import unittest
    unittest.main()
