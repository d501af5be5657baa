"""Snapshots (docs/recording.md, "Snapshots"), against the real daemon and test camera.

Two cameras on one es-testcam (1 s GOP): cam_x is transcoded (snapshots from the frames
the transcoder already decoded), cam_copy is passed through (snapshots from the newest
keyframe, decoded on demand). Both are recorded.

- /live/<camera>/snapshot.jpg decodes (ffmpeg -> gray) and its burned-in capture clock
  (tests/tools/clockcode.py) is within 1 s of now for the transcoded camera; the
  passed-through one shows the newest keyframe: not older than the first frame of the
  newest recorded segment, not newer than the transcoded camera's newest frame;
- 100 parallel requests cost one encode per distinct picture served: the
  edgestream_snapshot_encodes_total delta equals the number of distinct ETags among the
  100 answers, and that number is tiny (at most 3), while the requests counter grew by 100;
- /vod/<camera>/snapshot.jpg?t= shows the frame the recording holds at t (the segment
  decoded independently by ffmpeg, give or take a frame) and, in a segment whose frames'
  clocks follow its PROGRAM-DATE-TIME, a clock within 1 s of t (a CPU-starved test camera
  draws its clock seconds off its RTP timeline: then only the frame is judged, and said);
- bad parameters are 400 with a body that names the problem, an unrecorded time is 404,
  the token rule of the live paths applies."""

import concurrent.futures
import os
import re
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

TOKEN = "snap-token-123"
CAMS = ("cam_x", "cam_copy")


def write_config(path, url, root):
    lines = ["# written by tests/integration/test_snapshot.py",
             "storage: []",
             f"record_root: {h._yaml_scalar(root)}",
             "origin:",
             "  listen: 127.0.0.1:0",
             f"  token: {TOKEN}",
             "  webrtc:",
             "    enabled: false",
             "cameras:"]
    common = {"segment_duration": 1, "record": True, "record_min_free_gb": 0}
    lines += h._camera_yaml(h.camera("cam_x", url, **common), 2)
    lines += h._camera_yaml(h.camera("cam_copy", url, transcode="copy", **common), 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    h.LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


def get(url, headers=None):
    hdrs = {"Authorization": f"Bearer {TOKEN}"}
    hdrs.update(headers or {})
    return oh.request(url, headers=hdrs, timeout=30)


def clock_of_jpeg(data):
    """The burned-in capture time (s since the epoch) of a JPEG, decoded by ffmpeg."""
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        ms = clockcode.decode_file(f.name)
    return None if ms is None else ms / 1000.0


def segment_clocks(path, limit=None):
    """The burned-in clock (s) of each frame of a recorded segment (None where unreadable)."""
    width, height = clockcode.frame_size(path)
    args = ["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0"]
    if limit:
        args += ["-frames:v", str(limit)]
    raw = subprocess.run(args + ["-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    size = width * height
    out = []
    for i in range(len(raw) // size):
        ms = clockcode.decode(raw[i * size:(i + 1) * size], width, height)
        out.append(None if ms is None else ms / 1000.0)
    return out


def steady_segment(cam_dir):
    """A recorded segment (not among the newest two) whose frames' burned-in clocks
    follow its PROGRAM-DATE-TIME: the test camera, starved of CPU on a loaded box, draws
    its clock late and in bursts, and then its picture and its RTP timeline disagree by
    seconds, whatever edgestream does. Returns (name, start s, duration s, clocks of its frames, steady)."""
    names = sorted(rh.files_on_disk(cam_dir), key=lambda n: rh.parse_name(n)[2])
    tried = []
    for name in reversed(names[1:-2][-12:]):
        start, duration, _, _ = rh.parse_name(name)
        if duration < 0.9:
            continue
        path = os.path.join(cam_dir, rh.rel_path(name))
        first = segment_clocks(path, limit=1)
        if not first or first[0] is None or abs(first[0] - start) > 0.3:
            tried.append(None if not first or first[0] is None else round(first[0] - start, 3))
            continue
        clocks = segment_clocks(path)
        if len(clocks) < 5 or None in clocks:
            continue
        step = duration / len(clocks)  # frames are evenly spaced (the transcoder's grid)
        worst = max(abs(c - (start + i * step)) for i, c in enumerate(clocks))
        tried.append(round(worst, 3))
        if worst <= 0.3:
            return name, start, duration, clocks, True
    # None steady: the newest complete one still shows whether the snapshot is the
    # recording's frame at t; the camera's clock cannot be judged against t.
    name = names[-3]
    start, duration, _, _ = rh.parse_name(name)
    clocks = segment_clocks(os.path.join(cam_dir, rh.rel_path(name)))
    print(f"no recorded segment whose frames follow its PROGRAM-DATE-TIME within 0.3 s "
          f"(the test camera lags; offsets of the segments tried: {tried}): only the frame "
          "identity is judged")
    return name, start, duration, clocks, False


def metric(text, name, cam):
    m = re.search(rf'^{name}{{camera="{cam}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


class Snapshots(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        h.require_tool("ffmpeg")
        h.require_tool("ffprobe")
        cls.wd = h.new_workdir("snapshot")
        cls.cam = h.TestCam(cls.wd, extra_args=["--gop", "25"])
        cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        config = write_config(os.path.join(cls.wd, "cameras.yaml"), cls.cam.url, cls.root)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        for cam in CAMS:
            def ready(cam=cam):
                status, _, _ = get(f"{cls.base}live/{cam}/snapshot.jpg")
                return status == 200
            h.wait_for(ready, h.scaled(20), interval=0.2, what=f"{cam} snapshot")

    def snapshot(self, cam):
        status, headers, body = get(f"{self.base}live/{cam}/snapshot.jpg")
        return status, headers, body, time.time()

    def test_live_snapshot_is_now_transcoded(self):
        time.sleep(0.6)  # past the kept JPEG's half second
        asked = time.time()
        status, headers, body, now = self.snapshot("cam_x")
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(headers.get("content-type"), "image/jpeg")
        self.assertIn("max-age=1", headers.get("cache-control", ""))
        self.assertIn("private", headers.get("cache-control", ""))
        self.assertTrue(headers.get("etag"))
        clock = clock_of_jpeg(body)
        self.assertIsNotNone(clock, "no burned-in clock in the live snapshot")
        print(f"cam_x live snapshot: {len(body)} bytes, clock {asked - clock:.3f} s before the "
              f"request, answered in {1000 * (now - asked):.0f} ms")
        # The newest frame when the worker took it: captured at most a second before the
        # request (the test camera's and the pipeline's delay; a sanitizer build's is
        # scaled), at the latest while the request was served.
        self.assertLessEqual(asked - clock, h.scaled(1.0))
        self.assertLessEqual(clock, now + 0.05)

    def test_live_snapshot_is_the_newest_keyframe_passthrough(self):
        # A keyframe older than the newest recorded segment's first frame (a keyframe
        # that had arrived before the request) would be a stale snapshot.
        cam_dir = os.path.join(self.root, "cam_copy")
        names = sorted(rh.files_on_disk(cam_dir), key=lambda n: rh.parse_name(n)[2])
        newest = os.path.join(cam_dir, rh.rel_path(names[-1]))
        recorded_key = clockcode.decode_file(newest) / 1000.0
        time.sleep(0.6)  # cam_x's kept JPEG no longer holds: its answer is the newest frame
        status, _, body, now = self.snapshot("cam_copy")
        self.assertEqual(status, 200, body[:200])
        x = self.snapshot("cam_x")
        clock_copy, clock_x = clock_of_jpeg(body), clock_of_jpeg(x[2])
        self.assertIsNotNone(clock_copy, "no burned-in clock in the passthrough snapshot")
        self.assertIsNotNone(clock_x)
        print(f"cam_copy live snapshot: {len(body)} bytes, clock {now - clock_copy:.3f} s "
              f"before now, {clock_x - clock_copy:.3f} s before cam_x's newest frame, "
              f"{clock_copy - recorded_key:+.3f} s from the newest recorded keyframe")
        self.assertGreaterEqual(clock_copy, recorded_key - 0.002)
        # Not from the future either: cam_x's answer is its newest *decoded* frame, which in
        # a sanitizer build trails the newest packet by a frame or two (fresh-check saw a
        # passthrough keyframe 0.040 s, one 25 fps frame, after it), hence the margin.
        self.assertLessEqual(clock_copy, clock_x + h.scaled(0.05))
        # The test camera sends a keyframe every 25 frames (1 s when it is not starved).
        self.assertLessEqual(now - clock_copy, h.scaled(10))

    def test_hundred_parallel_requests_cost_one_encode_per_picture(self):
        for cam in CAMS:
            with self.subTest(cam=cam):
                # A picture already encoded before the burst costs the burst nothing.
                status, headers, _ = get(f"{self.base}live/{cam}/snapshot.jpg")
                self.assertEqual(status, 200)
                known = headers.get("etag")
                time.sleep(0.6)  # cam_x: the kept JPEG no longer holds; a new one is made
                before = get(f"{self.base}metrics")[2].decode()
                enc0 = metric(before, "edgestream_snapshot_encodes_total", cam)
                req0 = metric(before, "edgestream_snapshot_requests_total", cam)
                self.assertIsNotNone(enc0, before[-3000:])
                with concurrent.futures.ThreadPoolExecutor(100) as pool:
                    answers = list(pool.map(lambda _: get(f"{self.base}live/{cam}/snapshot.jpg"),
                                            range(100)))
                after = get(f"{self.base}metrics")[2].decode()
                enc1 = metric(after, "edgestream_snapshot_encodes_total", cam)
                req1 = metric(after, "edgestream_snapshot_requests_total", cam)
                self.assertTrue(all(a[0] == 200 for a in answers),
                                [a[0] for a in answers if a[0] != 200][:5])
                etags = {a[1].get("etag") for a in answers}
                bodies = {a[1].get("etag"): a[2] for a in answers}
                # Same ETag, same bytes: one picture, one JPEG.
                for a in answers:
                    self.assertEqual(a[2], bodies[a[1].get("etag")])
                new = etags - {known}
                print(f"{cam}: 100 requests, {len(etags)} distinct pictures ({len(new)} new), "
                      f"{enc1 - enc0} encodes")
                self.assertEqual(req1 - req0, 100)
                self.assertEqual(enc1 - enc0, len(new))
                self.assertLessEqual(len(etags), 3)
                if cam == "cam_x":
                    self.assertGreaterEqual(len(new), 1, "no encode in the burst: nothing judged")

    def test_if_none_match_is_304_while_the_picture_is_the_newest(self):
        not_modified = 0
        for _ in range(5):
            status, headers, _ = get(f"{self.base}live/cam_copy/snapshot.jpg")
            self.assertEqual(status, 200)
            etag = headers.get("etag")
            status, headers2, body = get(f"{self.base}live/cam_copy/snapshot.jpg",
                                         {"If-None-Match": etag})
            if status == 304:
                not_modified += 1
                self.assertEqual(body, b"")
            else:  # a new keyframe came in between: a new picture, a new ETag
                self.assertEqual(status, 200)
                self.assertNotEqual(headers2.get("etag"), etag)
        self.assertGreaterEqual(not_modified, 1)

    def test_vod_snapshot_shows_t(self):
        time.sleep(max(0, self.cam.ready_time + h.scaled(12) - time.time()))
        for cam in CAMS:
            with self.subTest(cam=cam):
                seg, start, duration, clocks, steady = steady_segment(
                    os.path.join(self.root, cam))
                self.assertNotIn(None, clocks, f"{seg}: a frame without a readable clock")
                # Mid-segment, between two frames: the frame on screen at t is the last
                # one that starts at or before it.
                t = start + 0.5 + 0.5 * duration / len(clocks)
                at = int((t - start) * len(clocks) / duration)
                near = clocks[max(0, at - 1):at + 2]
                url = (f"{self.base}vod/{cam}/snapshot.jpg?"
                       + urllib.parse.urlencode({"t": rh.iso_z(t)}))
                status, headers, body = get(url)
                self.assertEqual(status, 200, body[:300])
                self.assertEqual(headers.get("content-type"), "image/jpeg")
                self.assertIn("max-age=86400", headers.get("cache-control", ""))
                clock = clock_of_jpeg(body)
                self.assertIsNotNone(clock, "no burned-in clock in the recorded snapshot")
                print(f"{cam} VOD snapshot of {seg} at +{t - start:.3f} s: clock {clock - t:+.3f} s "
                      f"from t; the file's frames {at - 1}..{at + 1} show "
                      f"{[round(c - t, 3) for c in near]}")
                # The frame the recording holds at t (decoded here by ffmpeg), give or
                # take one frame...
                self.assertTrue(any(abs(clock - c) < 0.002 for c in near),
                                f"{clock} is none of {near}")
                # ...and, where the camera's clock follows the recording's timeline,
                # that clock is t's.
                if steady:
                    self.assertLessEqual(abs(clock - t), 1.0)

    def test_vod_snapshot_bad_parameters(self):
        base = f"{self.base}vod/cam_x/snapshot.jpg"
        cases = [
            ("", "needs t="),
            ("?t=yesterday", "not an ISO 8601 time"),
            ("?t=2026-02-30T10:00:00Z", "not an ISO 8601 time"),
            ("?t=2026-12-03T10:00:00Z&t=2026-12-03T10:00:01Z", "twice"),
            ("?t=2026-12-03T10:00:00Z&x=1", "unknown parameter"),
            ("?t=%zz", "percent-escape"),
        ]
        for query, words in cases:
            with self.subTest(query=query):
                status, _, body = get(base + query)
                self.assertEqual(status, 400, body)
                self.assertIn(words, body.decode())
        status, _, body = get(base + "?t=2001-01-01T00:00:00Z")
        self.assertEqual(status, 404, body)
        self.assertIn("nothing recorded", body.decode())
        status, _, body = get(f"{self.base}vod/nope/snapshot.jpg?t=2001-01-01T00:00:00Z")
        self.assertEqual(status, 404, body)

    def test_token_rule_applies(self):
        status, _, _ = oh.request(f"{self.base}live/cam_x/snapshot.jpg")
        self.assertEqual(status, 401)
        status, _, _ = oh.request(f"{self.base}vod/cam_x/snapshot.jpg?t=2026-12-03T10:00:00Z")
        self.assertEqual(status, 401)
        status, _, body = oh.request(f"{self.base}live/cam_x/snapshot.jpg?token={TOKEN}")
        self.assertEqual(status, 200)
        status, _, _ = get(f"{self.base}live/nope/snapshot.jpg")
        self.assertEqual(status, 404)

    def test_encode_time(self):
        text = get(f"{self.base}metrics")[2].decode()
        total = float(re.search(r"^edgestream_snapshot_encode_seconds_total (\S+)$", text,
                                re.M).group(1))
        count = int(re.search(r"^edgestream_snapshot_encoded_total (\d+)$", text, re.M).group(1))
        self.assertGreater(count, 0)
        print(f"snapshot decode+encode: {count} done, {1000 * total / count:.1f} ms each on "
              "average (live and recorded, 1280x720)")


if __name__ == "__main__":
    import unittest
    unittest.main()
