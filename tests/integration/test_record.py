"""Recording and VOD playback (docs/recording.md), against the real daemon and test camera:
record ~30 s, restart the daemon, record ~20 s more. The VOD playlist for the whole span
parses strictly, names only files that exist (and the origin serves their exact bytes, with
Range), marks the restart's hole with EXT-X-DISCONTINUITY, and ffprobe validates every
segment. Bad query parameters get 400 with a body that names the problem; /api/cameras
and /metrics carry the recording's figures."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import record_harness as rh  # noqa: E402

CAM = "cam1"


class RecordAndRestart(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("record")
        cls.cam = h.TestCam(cls.wd)
        cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        cls.cam_dir = os.path.join(cls.root, CAM)
        config = rh.write_config(os.path.join(cls.wd, "cameras.yaml"), cls.cam.url, cls.root)
        cls.t0 = time.time()
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        # ~30 s of 1 s segments; on a loaded box (the suite runs tests side by side, or
        # under the sanitizers) the camera may fall behind real time, so the count is
        # waited for, not assumed: the sleep itself is not scaled.
        time.sleep(30)
        cls.wait_recorded(25)
        cls.first_run_files = rh.files_on_disk(cls.cam_dir)
        cls.restart_stop = time.time()
        rc = cls.daemon.stop()
        if rc != 0:
            raise RuntimeError(f"edgestream exited with {rc} at the restart")
        time.sleep(2)  # a hole the playlist must show
        cls.daemon.start()
        cls.base = oh.origin_base(cls.daemon)
        time.sleep(20)
        cls.wait_recorded(len(cls.first_run_files) + 15)
        cls.t1 = time.time()
        status, _, body = rh.get(rh.vod_url(cls.base, CAM, cls.t0 - 5, cls.t1 + 5))
        if status != 200:
            raise RuntimeError(f"VOD playlist: {status} {body[:200]!r}")
        cls.text = body.decode()
        cls.playlist = rh.parse_vod(cls.text)

    @classmethod
    def wait_recorded(cls, count):
        h.wait_for(lambda: len(rh.files_on_disk(cls.cam_dir)) >= count, h.scaled(120),
                   interval=0.5, what=f"{count} recorded segments")

    def test_playlist_spans_both_runs(self):
        segs = self.playlist.segments
        self.assertGreaterEqual(len(segs), 40, self.text[:2000])
        first_run = [s for s in segs if s.uri in self.first_run_files]
        second_run = [s for s in segs if s.pdt > self.restart_stop]
        self.assertGreaterEqual(len(first_run), 25)
        self.assertGreaterEqual(len(second_run), 12)  # 15 new files, 1-2 of them the stop's
        pdts = [s.pdt for s in segs]
        self.assertEqual(pdts, sorted(pdts), "PROGRAM-DATE-TIME goes back")

    def test_restart_hole_is_a_discontinuity(self):
        segs = self.playlist.segments
        holes = 0
        for prev, s in zip(segs, segs[1:]):
            gap = s.pdt - (prev.pdt + prev.duration)
            if gap > 0.5:
                holes += 1
                self.assertTrue(s.discontinuity, f"{s.uri}: {gap:.2f} s hole without "
                                                 "EXT-X-DISCONTINUITY")
        self.assertGreaterEqual(holes, 1, "the restart left no hole")
        # The first segment after the restart starts a new discontinuity.
        after = next(s for s in segs if s.pdt > self.restart_stop)
        self.assertTrue(after.discontinuity, after.uri)

    def test_names_only_files_that_exist(self):
        rows = rh.index_rows(self.cam_dir)
        on_disk = rh.files_on_disk(self.cam_dir)
        for s in self.playlist.segments:
            self.assertIn(s.uri, on_disk)
        # ...and the index and the files agree: no row without its file; while the daemon
        # records, at most the segment just renamed may not have its row yet.
        self.assertEqual(set(rows) - set(on_disk), set())
        self.assertLessEqual(len(set(on_disk) - set(rows)), 1)
        for name, size in rows.items():
            self.assertEqual(on_disk[name], size, name)

    def test_every_segment_is_served_and_valid(self):
        segs = self.playlist.segments
        copies = []
        for s in segs:
            status, headers, body = rh.get(f"{self.base}vod/{CAM}/{s.uri}")
            self.assertEqual(status, 200, s.uri)
            self.assertEqual(headers.get("content-type"), "video/mp2t")
            self.assertEqual(headers.get("accept-ranges"), "bytes")
            with open(os.path.join(self.cam_dir, rh.rel_path(s.uri)), "rb") as f:
                self.assertEqual(body, f.read(), s.uri)
            path = os.path.join(self.wd, "probe-" + s.uri)
            with open(path, "wb") as f:
                f.write(body)
            copies.append(path)
        for path, info in rh.probe_many(copies).items():
            self.assertEqual(info["format"], "mpegts", path)
            self.assertEqual(info["codec"], "h264", f"{path}: no H.264 video")
            self.assertEqual(info["first_key"], 1, f"{path}: does not start with a keyframe")
            self.assertGreater(info["frames"], 0, path)

    def test_range_requests(self):
        uri = self.playlist.segments[0].uri
        url = f"{self.base}vod/{CAM}/{uri}"
        with open(os.path.join(self.cam_dir, rh.rel_path(uri)), "rb") as f:
            data = f.read()
        status, headers, body = rh.get(url, {"Range": "bytes=0-187"})
        self.assertEqual((status, body), (206, data[:188]))
        self.assertEqual(headers.get("content-range"), f"bytes 0-187/{len(data)}")
        status, headers, body = rh.get(url, {"Range": "bytes=-100"})
        self.assertEqual((status, body), (206, data[-100:]))
        status, headers, body = rh.get(url, {"Range": f"bytes={len(data) - 10}-"})
        self.assertEqual((status, body), (206, data[-10:]))
        status, headers, _ = rh.get(url, {"Range": f"bytes={len(data)}-"})
        self.assertEqual(status, 416)
        self.assertEqual(headers.get("content-range"), f"bytes */{len(data)}")
        status, _, body = rh.get(url, {"Range": "bytes=0-1,5-9"})  # may be ignored: whole
        self.assertEqual((status, body), (200, data))

    def test_bad_parameters_are_400_with_a_reason(self):
        base = f"{self.base}vod/{CAM}/index.m3u8"
        cases = [
            ("", "needs start="),
            ("?start=2026-12-03T10:00:00Z", "needs start="),
            ("?start=yesterday&end=2026-12-03T10:00:00Z", "start= is not an ISO 8601 time"),
            ("?start=2026-02-31T10:00:00Z&end=2026-03-01T10:00:00Z", "start= is not"),
            ("?start=2026-12-03T10:00:00Z&end=2026-12-03T10:00:00", "end= is not"),
            ("?start=2026-12-03T10:00:00Z&end=2026-12-03T09:00:00Z", "end= must be after"),
            ("?start=2026-12-01T10:00:00Z&end=2026-12-03T10:00:01Z", "range too long"),
            ("?start=2026-12-03T10:00:00Z&start=2026-12-03T10:00:00Z&end=2026-12-03T11:00:00Z",
             "given twice"),
            ("?start=2026-12-03T10:00:00Z&end=%ZZ", "percent-escape"),
        ]
        for query, reason in cases:
            status, _, body = rh.get(base + query)
            self.assertEqual(status, 400, query)
            self.assertIn(reason, body.decode(), query)
        # An offset is a valid spelling of the same time ('+' is not a space here).
        status, _, body = rh.get(base + "?start=" + rh.iso_z(self.t0)[:-1] + "%2B00:00&end="
                                 + rh.iso_z(self.t1)[:-1] + "+00:00")
        self.assertEqual(status, 200, body[:200])
        # A range with nothing recorded, an unknown camera, a foreign name: 404.
        self.assertEqual(rh.get(base + "?start=2001-01-01T00:00:00Z&end=2001-01-01T01:00:00Z")[0],
                         404)
        self.assertEqual(rh.get(f"{self.base}vod/nosuch/index.m3u8")[0], 404)
        for name in ("index.db", "20261203T100000.000Z_1000_01.ts", "..%2Findex.db",
                     "20261203T100000.000Z_1000_1.ts.tmp"):
            self.assertIn(rh.get(f"{self.base}vod/{CAM}/{name}")[0], (400, 404), name)

    def test_spans_split_at_the_restart_and_at_every_discontinuity(self):
        status, headers, body = rh.get(f"{self.base}vod/{CAM}/spans.json?start="
                                       f"{rh.iso_z(self.t0 - 5)}&end={rh.iso_z(self.t1 + 5)}")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("content-type"), "application/json")
        spans = [(h.parse_pdt(s["start"]), h.parse_pdt(s["end"]))
                 for s in json.loads(body)["spans"]]
        segs = self.playlist.segments
        # One run per discontinuity of the playlist, plus the first (a loaded box may add
        # camera reconnects to the restart; each is both).
        self.assertEqual(len(spans), 1 + sum(s.discontinuity for s in segs), spans)
        self.assertGreaterEqual(len(spans), 2)
        self.assertAlmostEqual(spans[0][0], segs[0].pdt, delta=0.002)
        for (a, b), (c, _) in zip(spans, spans[1:]):
            self.assertLess(a, b)
            self.assertLess(b, c)
        # The restart: a run ends before it and the next starts with the first segment after.
        after = next(s for s in segs if s.pdt > self.restart_stop)
        i = next(i for i, (a, _) in enumerate(spans) if abs(a - after.pdt) < 0.002)
        self.assertLess(spans[i - 1][1], self.restart_stop + 1)
        self.assertEqual(rh.get(f"{self.base}vod/{CAM}/spans.json?start=x&end=y")[0], 400)

    def test_vod_follows_the_origins_host_rule(self):
        # A loopback origin answers loopback names only (DNS rebinding), /vod/ included.
        uri = self.playlist.segments[0].uri
        for path in (f"vod/{CAM}/{uri}", f"vod/{CAM}/index.m3u8?start={rh.iso_z(self.t0)}"
                     f"&end={rh.iso_z(self.t1)}"):
            self.assertEqual(rh.get(self.base + path, {"Host": "evil.example"})[0], 421, path)
            self.assertEqual(rh.get(self.base + path, {"Host": "localhost"})[0], 200, path)

    def test_a_day_long_range_is_answered_from_the_index(self):
        started = time.monotonic()
        status, _, body = rh.get(rh.vod_url(self.base, CAM, self.t1 - 86400 + 60, self.t1 + 60))
        elapsed = time.monotonic() - started
        self.assertEqual(status, 200)
        day = rh.parse_vod(body.decode()).segments
        # The same recording: what the first playlist named, plus what was recorded since.
        first = [s.uri for s in self.playlist.segments]
        self.assertEqual([s.uri for s in day[:len(first)]], first)
        for s in day[len(first):]:
            self.assertGreater(s.pdt, self.playlist.segments[-1].pdt)
        self.assertLess(elapsed, h.scaled(5))  # generous sanity bound

    def test_api_and_metrics_show_the_recording(self):
        status, _, body = rh.get(f"{self.base}api/cameras")
        self.assertEqual(status, 200)
        cam = json.loads(body)["cameras"][0]
        rec = cam["recording"]
        self.assertTrue(rec["enabled"])
        self.assertEqual(rec["state"], "recording")
        self.assertEqual(rec["vod_url"], f"/vod/{CAM}/index.m3u8")
        on_disk = rh.files_on_disk(self.cam_dir)
        self.assertGreaterEqual(rec["segments"], len(self.playlist.segments))
        self.assertGreater(rec["bytes"], 0)
        oldest = h.parse_pdt(rec["oldest"])
        self.assertAlmostEqual(oldest, self.playlist.segments[0].pdt, delta=0.002)
        self.assertGreater(h.parse_pdt(rec["newest"]), self.restart_stop)
        self.assertLessEqual(rec["bytes"], sum(on_disk.values()))
        status, _, body = rh.get(f"{self.base}metrics")
        text = body.decode()
        for family in ("edgestream_record_bytes", "edgestream_record_segments",
                       "edgestream_record_recording", "edgestream_record_oldest_timestamp_seconds",
                       "edgestream_record_deleted_total"):
            self.assertRegex(text, rf'(?m)^{family}{{camera="{CAM}"}} [0-9.e+]+$')
        self.assertRegex(text, rf'(?m)^edgestream_record_recording{{camera="{CAM}"}} 1$')

    def test_no_errors_logged(self):
        self.assertEqual(self.daemon.error_lines(), [])
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
