#!/usr/bin/env python3
"""Restarts mid-stream continue the media sequence from the store (issue 3, "What it must
show" item 3; DESIGN.md invariant 2).

Only the Supabase backend is configured (no local directory whose names could carry the
numbering across), so whatever continues comes from the store. Three runs on one emulator:

  run 1  streams, then SIGTERM (a clean stop drains its queue);
  run 2  streams; for its last 3 s every playlist write fails (503), then SIGKILL: a
         crash that leaves segments in the store that the stored playlist never named;
  run 3  streams, then SIGTERM.

Proves, from the public playlist (read every 200 ms throughout) and the emulator's write log:
  - every run's first new segment number is above every segment name already in the store
    (continued by the camera, event=resume, or by the remote sink, event=renumbered), and
    the public MEDIA-SEQUENCE never goes back across the restarts;
  - each restart keeps the stored window and marks the join with EXT-X-DISCONTINUITY;
  - no object name is ever written twice with different bytes (only the playlist is
    rewritten, on purpose), and no segment name is written twice at all;
  - old runs' leftovers are deleted after the grace period.
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

CAM = "cam_restart"
SEGMENT = 2
KEEP = 3
GRACE = 8.0
RUNS = [(6.0, signal.SIGTERM), (6.0, signal.SIGKILL), (11.0, signal.SIGTERM)]


def msn_of(name):
    m = re.search(r"segment_(\d+)\.ts$", name)
    return int(m.group(1)) if m else None


class SupabaseRestartTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("supabase-restart")
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
        config = sh.storage_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera(CAM, url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     delete_grace=GRACE, transcode="copy")], [
            {"backend": "supabase", "url": cls.emu.url, "delete_interval_s": 1},
        ])
        prefix = f"location_1/{CAM}/"
        cls.checker = sh.PlaylistChecker(cls.emu.public_url(prefix + "stream.m3u8"),
                                         cls.emu.public_url(prefix), interval=0.2,
                                         refetch=False)
        cls.checker.start()
        cls.daemon = h.Daemon(cls.wd, ["--config", config, "--camera", CAM, "--quiet"])
        cls.runs = []   # per run: (writes before it started, exit status)
        for seconds, sig in RUNS:
            before = len(cls.emu.stats()["write_log"])
            os.environ["SUPABASE_KEY"] = cls.key
            try:
                cls.daemon.start()
            finally:
                del os.environ["SUPABASE_KEY"]
            # Streams until this run's first segment is public, then `seconds` more.
            h.wait_for(lambda: len(cls.emu.stats()["write_log"]) > before + 1 or
                       not cls.daemon.alive(), h.scaled(20), what="this run's first upload")
            end = time.monotonic() + seconds
            crash = sig == signal.SIGKILL
            while time.monotonic() < end:
                if not cls.daemon.alive():
                    raise AssertionError(f"edgestream exited with {cls.daemon.returncode()}")
                if crash and end - time.monotonic() < 3.0:
                    cls.emu.set_faults({"error_rates": {"503": 1.0}, "methods": ["POST"],
                                        "path_regex": r"stream\.m3u8$"})
                    crash = False
                time.sleep(0.1)
            rc = cls.daemon.stop(sig, timeout=h.scaled(15))
            cls.emu.clear_faults()
            cls.runs.append((before, rc))
            time.sleep(0.5)
            if sig == signal.SIGKILL:
                cls.after_crash = cls._stored_state()
        time.sleep(1)
        cls.checker.stop()
        cls.stats = cls.emu.stats()
        cls.objects = cls.emu.objects()

    @classmethod
    def _stored_state(cls):
        """(last msn the stored playlist names, highest segment name stored)."""
        import urllib.request
        with urllib.request.urlopen(cls.emu.public_url(f"location_1/{CAM}/stream.m3u8")) as r:
            pl = h.parse_playlist(r.read().decode())
        names = [o["name"] for o in cls.emu.objects() if o["name"].endswith(".ts")]
        return pl.last_msn(), max(msn_of(n) for n in names)

    @classmethod
    def _cleanup(cls):
        if cls.checker is not None and cls.checker.is_alive():
            cls.checker.stop()
        h.kill_all_started()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)


    def _segment_writes(self, start, end):
        return [w for w in self.stats["write_log"][start:end] if w["name"].endswith(".ts")]

    def test_exit_statuses(self):
        self.assertEqual(self.runs[0][1], 0)
        self.assertEqual(self.runs[1][1], -signal.SIGKILL)
        self.assertEqual(self.runs[2][1], 0)
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer")

    def test_each_run_continues_above_every_stored_name(self):
        starts = [b for b, _ in self.runs] + [len(self.stats["write_log"])]
        report = []
        for i in range(1, len(self.runs)):
            earlier = self._segment_writes(0, starts[i])
            this = self._segment_writes(starts[i], starts[i + 1])
            self.assertTrue(this, f"run {i + 1} uploaded segments")
            top = max(msn_of(w["name"]) for w in earlier)
            first = min(msn_of(w["name"]) for w in this)
            report.append(f"run {i + 1}: store held up to segment {top}, first new {first}")
            self.assertGreater(first, top)
        named, stored = self.after_crash
        report.append(f"after the crash the stored playlist named up to {named}, the store "
                      f"held segments up to {stored}")
        self.assertGreater(stored, named, "the crash left unnamed segments (the case tested)")
        # Who continued the numbers: the camera, when the store had answered before its
        # first packet (event=resume), or the remote sink, which numbers after what the
        # store holds once it answers (event=renumbered). Nothing waits for the store at
        # start (issue 13), so under load either may; each later run must show one.
        lines = self.daemon.all_log_lines()
        resumes = [l for l in lines if "event=resume" in l]
        renumbered = [l for l in lines if "event=renumbered" in l]
        report.append(f"resumed by the camera {len(resumes)}, renumbered by the sink "
                      f"{len(renumbered)}")
        self.assertEqual(len(resumes) + len(renumbered), 2, "runs 2 and 3 continued")
        sys.stderr.write("\n".join(report) + "\n")

    def test_public_media_sequence_never_goes_back_and_joins_are_marked(self):
        h.fail_if(self, self.checker.update_problems(), "playlist updates")
        p = [f"{h.iso(t)}: {w}" for t, w in self.checker.playlist_errors]
        h.fail_if(self, p, "playlist reads")
        # The first playlist of run 2 (after a clean stop) keeps the stored window before
        # the join. Run 3 follows a crash that stored segments no playlist names: their
        # durations are unknown, so its window starts over after the gap.
        starts = [b for b, _ in self.runs]
        for i in (1, 2):
            first_new = min(msn_of(w["name"]) for w in self._segment_writes(starts[i], None))
            joined = [v.playlist for v in self.checker.versions
                      if any(s.msn == first_new for s in v.playlist.segments)]
            self.assertTrue(joined, f"run {i + 1}'s first segment was listed")
            pl = joined[0]
            seg = pl.by_msn()[first_new]
            self.assertTrue(seg.discontinuity, f"EXT-X-DISCONTINUITY before msn {first_new}")
            if i == 1:
                self.assertLess(pl.media_sequence, first_new,
                                f"run {i + 1} kept the stored window before its first segment")

    def test_no_name_is_written_twice_with_different_bytes(self):
        reused = [n for n in self.stats["names_written_with_different_bytes"]
                  if not n.endswith("stream.m3u8")]
        self.assertEqual(reused, [])
        names = [w["name"] for w in self.stats["write_log"] if w["name"].endswith(".ts")]
        self.assertEqual(len(names), len(set(names)), "a segment name was written twice")

    def test_leftovers_of_earlier_runs_are_deleted(self):
        # Run 3 listed the store at start and deleted what its window no longer held once
        # the grace period (8 s) had passed; it ran 11 s.
        stored = sorted(msn_of(o["name"]) for o in self.objects if o["name"].endswith(".ts"))
        run3_first = min(msn_of(w["name"]) for w in self._segment_writes(self.runs[2][0], None))
        old = [m for m in stored if m < run3_first - KEEP]
        self.assertEqual(old, [], f"old segments still stored: {old}")

    def test_no_key_in_any_log_or_output(self):
        self.assertEqual(sh.secrets_in_files(self.wd, [self.key]), [])


if __name__ == "__main__":
    h.run_tests()
