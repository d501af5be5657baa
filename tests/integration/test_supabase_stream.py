#!/usr/bin/env python3
"""A minute of the test camera into the Supabase Storage emulator (issue 3, "What it must
show" items 1 and 4; DESIGN.md invariants 2, 5 and 7).

edgestream streams es-testcam with `storage: [local, supabase]`; the key comes from the
environment. A checker reads the *public* playlist every 200 ms as a player would and fetches
every segment the moment a playlist names it, then again when it leaves the playlist.

Proves:
  - not one fetch of a named segment fails, before or after it leaves the playlist;
  - every object carries the expected Content-Type (no parameters) and Cache-Control;
  - every playlist version parses and follows RFC 8216 §6.2.2 (MEDIA-SEQUENCE only grows);
  - the bytes readers get are the bytes written (emulator write log sha256), and no segment
    name is ever written twice;
  - old segments are deleted, in batches, after the grace period;
  - requests per segment (segment + playlist + deletes) stay at or under 3, and the daemon
    uses a handful of connections, not one per request;
  - the status line shows, per store, the last upload and its time, retries and backlog;
  - no log or output of the run contains the key (item 4).

ES_SUPABASE_STREAM_SECONDS (default 60) sets the length.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import storage_harness as sh  # noqa: E402

CAM = "cam_floor"
SEGMENT = 2
KEEP = 5
GRACE = 16.0
SECONDS = float(os.environ.get("ES_SUPABASE_STREAM_SECONDS", "60"))


class SupabaseStreamTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("supabase-stream")
        cls.key = sh.new_key()
        cls.emu = sh.Emulator(cls.wd, cls.key)
        cls.cam = h.TestCam(cls.wd, "testcam")
        cls.checker = None
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            cls._cleanup()
            raise

    @classmethod
    def _run(cls):
        url = cls.cam.start()
        cls.emu.start()
        root = os.path.join(cls.wd, "root")
        config = sh.storage_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera(CAM, url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     delete_grace=GRACE)], [
            {"backend": "local", "root": root},
            {"backend": "supabase", "url": cls.emu.url, "delete_interval_s": 5},
        ], origin={"listen": "127.0.0.1:0"})
        prefix = f"location_1/{CAM}/"
        cls.checker = sh.PlaylistChecker(cls.emu.public_url(prefix + "stream.m3u8"),
                                         cls.emu.public_url(prefix), interval=0.2, keep_bodies=2)
        os.environ["SUPABASE_KEY"] = cls.key
        try:
            cls.daemon = h.Daemon(cls.wd, ["--config", config, "--camera", CAM])
            cls.daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        cls.checker.start()
        h.wait_for(lambda: cls.checker.latest() is not None or not cls.daemon.alive(),
                   h.scaled(20), what="the first public playlist")
        start = time.monotonic()
        while time.monotonic() - start < SECONDS:
            if not cls.daemon.alive():
                raise AssertionError(f"edgestream exited with {cls.daemon.returncode()}")
            time.sleep(0.2)
        cls.t_stop = time.time()
        status, _, body = oh.request(oh.origin_base(cls.daemon, 1) + "metrics")
        cls.metrics = body.decode() if status == 200 else f"HTTP {status}"
        cls.rc = cls.daemon.stop(signal.SIGTERM, timeout=h.scaled(15))
        time.sleep(0.5)
        cls.checker.stop()
        cls.stats = cls.emu.stats()
        cls.objects = cls.emu.objects()

    @classmethod
    def _cleanup(cls):
        if cls.checker is not None and cls.checker.is_alive():
            cls.checker.stop()
        h.kill_all_started()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)


    # ---- the checks ----

    def test_daemon_stopped_cleanly_without_errors(self):
        self.assertEqual(self.rc, 0)
        self.assertEqual(self.daemon.error_lines(), [])
        h.fail_if(self, h.log_format_problems(self.daemon), "log format")
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer")

    def test_metrics_count_uploads(self):
        def value(name):
            m = re.search(rf'^{name}\{{camera="{CAM}"\}} (\S+)$', self.metrics, re.M)
            self.assertIsNotNone(m, f"{name} for {CAM} in /metrics")
            return float(m.group(1))
        uploaded = value("edgestream_upload_segments_total")
        self.assertGreaterEqual(uploaded, SECONDS / SEGMENT - 4)
        self.assertLessEqual(uploaded, value("edgestream_camera_segments_total"))
        self.assertEqual(value("edgestream_upload_dropped_total"), 0)
        self.assertGreaterEqual(value("edgestream_upload_backlog_segments"), 0)
        self.assertGreater(value("edgestream_upload_last_seconds"), 0)
        self.assertGreaterEqual(value("edgestream_upload_retries_total"), 0)

    def test_every_named_segment_was_fetched_and_none_failed(self):
        fetches = self.checker.segment_fetches()
        first = [f for f in fetches if not f.again]
        expected = SECONDS / SEGMENT - 4
        self.assertGreaterEqual(len(first), expected,
                                f"only {len(first)} segments were ever named")
        bad = [f"{f.name}{' (after it left the playlist)' if f.again else ''}: "
               f"{f.status} {f.error}" for f in fetches if f.status != 200]
        h.fail_if(self, bad, "segment fetches")
        again = [f for f in fetches if f.again]
        self.assertGreaterEqual(len(again), len(first) - KEEP - 2,
                                "segments that left the playlist were re-fetched")
        sys.stderr.write(f"checker: {self.checker.polls} polls, {len(self.checker.versions)} "
                         f"playlist versions, {len(first)} segments fetched when named, "
                         f"{len(again)} again after they left; 0 failed\n")

    def test_every_object_has_the_expected_headers(self):
        h.fail_if(self, self.checker.header_problems(), "segment headers as served")
        p = [f"{t}: {what}" for t, what in self.checker.playlist_errors]
        h.fail_if(self, p, "playlist reads")
        problems = []
        for o in self.objects:
            if o["name"].endswith(".ts"):
                want = (sh.SEGMENT_TYPE, sh.SEGMENT_CACHE)
            else:
                want = (sh.PLAYLIST_TYPE, sh.PLAYLIST_CACHE)
            if (o["content_type"], o["cache_control"]) != want:
                problems.append(f"{o['name']}: {o['content_type']!r} {o['cache_control']!r}")
        for w in self.stats["write_log"]:
            want = sh.SEGMENT_TYPE if w["name"].endswith(".ts") else sh.PLAYLIST_TYPE
            if w["content_type"] != want:
                problems.append(f"write {w['name']}: {w['content_type']!r}")
            if w["name"].endswith(".ts") and w["upsert"]:
                problems.append(f"write {w['name']}: a segment was sent with x-upsert")
            if w["name"].endswith(".m3u8") and not w["upsert"]:
                problems.append(f"write {w['name']}: the playlist was sent without x-upsert")
        h.fail_if(self, problems, "stored objects")

    def test_playlist_versions_follow_rfc_8216(self):
        h.fail_if(self, self.checker.update_problems(), "playlist updates")
        pl = self.checker.latest()
        self.assertEqual(pl.target_duration, SEGMENT)
        self.assertLessEqual(len(pl.segments), KEEP)
        self.assertTrue(pl.independent_segments)

    def test_readers_get_the_bytes_written_and_no_name_is_reused(self):
        written = {}
        for w in self.stats["write_log"]:
            written.setdefault(w["name"].split("/", 1)[1], set()).add(w["sha256"])
        problems = []
        for f in self.checker.segment_fetches():
            if f.status == 200 and {f.sha256} != written.get(f"location_1/{CAM}/{f.name}"):
                problems.append(f"{f.name}: served sha256 {f.sha256[:12]} not what was written")
        h.fail_if(self, problems, "bytes")
        reused = [n for n in self.stats["names_written_with_different_bytes"]
                  if not n.endswith("stream.m3u8")]
        self.assertEqual(reused, [])
        segment_writes = [w for w in self.stats["write_log"] if w["name"].endswith(".ts")]
        names = [w["name"] for w in segment_writes]
        self.assertEqual(len(names), len(set(names)), "a segment was written twice")

    def test_first_segments_are_valid_mpeg_ts(self):
        problems = []
        for name, body in self.checker.bodies.items():
            path = os.path.join(self.wd, "fetched-" + name)
            with open(path, "wb") as f:
                f.write(body)
            r = subprocess.run([h.require_tool("ffprobe"), "-v", "error", "-show_entries", "stream=codec_name",
                                "-of", "csv=p=0", path], capture_output=True, text=True,
                               timeout=h.scaled(30))
            if r.returncode != 0 or "h264" not in r.stdout:
                problems.append(f"{name}: ffprobe {r.returncode} {r.stdout!r} {r.stderr!r}")
        self.assertTrue(self.checker.bodies)
        h.fail_if(self, problems, "segments")

    def test_old_segments_are_deleted_in_batches_after_the_grace_period(self):
        routes = self.stats["routes"]
        deletes = routes.get("DELETE /object/{bucket}", {}).get("requests", 0)
        segments = [w for w in self.stats["write_log"] if w["name"].endswith(".ts")]
        remaining = {o["name"].rsplit("/", 1)[1] for o in self.objects
                     if o["name"].endswith(".ts")}
        # When each segment left the public playlist: the first version without it.
        left = {}
        named = set()
        for v in self.checker.versions:
            now = {s.uri for s in v.playlist.segments}
            for uri in named - now:
                left.setdefault(uri, v.time)
            named |= now
        # Gone: whatever left more than the grace period plus a batch interval (5 s) plus
        # slack before the stop. Still there at the stop: nothing that left under the grace.
        late = sorted(u for u, t in left.items()
                      if t < self.t_stop - (GRACE + 5 + 3) and u in remaining)
        self.assertEqual(late, [], "segments kept past the grace period")
        early = sorted(u for u, t in left.items()
                       if t > self.t_stop - (GRACE - 1) and u not in remaining)
        self.assertEqual(early, [], "segments deleted before the grace period was over")
        sys.stderr.write(f"deletes: {deletes} batched requests for {len(segments) - len(remaining)}"
                         f" segments; {len(remaining)} of {len(segments)} still stored\n")
        self.assertGreater(deletes, 0)
        self.assertLess(deletes, len(segments) / 2, "deletes are batched")

    def test_requests_per_segment_and_connections(self):
        segments = len([w for w in self.stats["write_log"] if w["name"].endswith(".ts")])
        requests = self.emu.requests(self.stats)
        per = requests / segments
        sys.stderr.write(f"emulator: {requests} storage requests for {segments} segments = "
                         f"{per:.2f} a segment; {self.stats['connections_accepted']} TCP "
                         f"connections accepted (the checker's included)\n")
        self.assertLessEqual(per, 3.0)
        # Ours: a handful at most; the checker adds one or two.
        self.assertLessEqual(self.stats["connections_accepted"], 4 + 2)

    def test_status_line_shows_each_store(self):
        out_path = self.daemon.log_path.replace(".stderr", ".stdout")
        with open(out_path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith(CAM)]
        self.assertTrue(lines, "a status line every 10 s")
        import re
        rx = re.compile(r" supabase (ok|retrying) last=segment_\d{3,}\.ts \d+ms "
                        r"playlist_age=[\d.]+s retries=\d+ backlog=\d+/\d+KiB dropped=\d+")
        self.assertRegex(lines[-1], rx)

    def test_no_key_in_any_log_or_output(self):
        hits = sh.secrets_in_files(self.wd, [self.key])
        self.assertEqual(hits, [], "the key appears in these files")
        for line in self.daemon.all_log_lines():
            self.assertNotIn(self.key[8:24], line)


if __name__ == "__main__":
    h.run_tests()
