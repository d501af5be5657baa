#!/usr/bin/env python3
"""edgestream itself restarts on the same directory (issue 2, "What it must show" item 3,
second half; DESIGN.md invariant 2).

Run 1 streams about 8 s and is stopped with SIGTERM (exit status 0). Run 2 starts on the
same --root: its first new segment's media sequence number is the last one run 1 listed
plus one, EXT-X-DISCONTINUITY marks the join, the playlist's MEDIA-SEQUENCE never goes
back, and no file name is ever reused: every name seen in either run maps to one sha256.
Run 1's segments that run 2 no longer lists are deleted once the grace period is over.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CAM = "cam_restart"
SEGMENT = 2
KEEP = 3
GRACE = 8.0   # the least edgestream accepts for 2 s x keep 3: RFC 8216 §6.2.2, 2 x (3 + 1)
RUN1 = 8.0
RUN2 = 10.0


class RestartTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("restart")
        cls.root = os.path.join(cls.wd, "root")
        cls.cam = h.TestCam(cls.wd, "testcam")
        cls.daemon = None
        cls.watcher = None
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            cls._cleanup()
            raise

    @classmethod
    def _stream(cls, seconds, until=None, limit=None):
        """Streams at least `seconds`, then on until until() holds or `limit` seconds."""
        start = time.monotonic()
        h.wait_for(lambda: any(run == cls.watcher.run_number and pl.segments
                               for _, pl, run in cls.watcher.playlists())
                   or not cls.daemon.alive(), h.scaled(20),
                   what=f"a playlist from run {cls.watcher.run_number}")
        while time.monotonic() - start < seconds or \
                (until is not None and not until() and time.monotonic() - start < limit):
            if not cls.daemon.alive():
                raise AssertionError(f"edgestream run {cls.watcher.run_number} exited with "
                                     f"{cls.daemon.returncode()}")
            time.sleep(0.1)
        t = time.time()
        rc = cls.daemon.stop(signal.SIGTERM, timeout=h.scaled(10))
        return rc, time.time() - t

    @classmethod
    def _run(cls):
        url = cls.cam.start()
        config = h.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera(CAM, url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     delete_grace=GRACE)], form="list")
        cls.camdir = os.path.join(cls.root, "location_1", CAM)
        cls.watcher = h.DirWatcher(cls.camdir, os.path.join(cls.wd, "copies"))
        cls.watcher.start()
        cls.daemon = h.Daemon(cls.wd, ["--config", config, "--camera", CAM, "--root", cls.root,
                                       "--quiet"])

        cls.daemon.start()
        cls.rc1, cls.stop1 = cls._stream(RUN1)
        cls.watcher.poll()
        cls.run1_final = cls.watcher.latest()
        cls.run1_all = {n: r.sha256 for n, r in cls.watcher.segment_records().items()}
        cls.run1_files = {n: digest for n, digest in cls.run1_all.items()
                          if cls.watcher.segment_records()[n].deleted_at is None}
        cls.run1_dotfiles = h.dotfiles(cls.camdir)

        with cls.watcher.lock:
            cls.watcher.run_number = 2
        cls.restart_time = time.time()
        cls.daemon.start()
        # Long enough for run 1's oldest segment to leave run 2's playlist and its grace
        # period to run out, so the clean-up of a previous run is seen.
        cls.rc2, cls.stop2 = cls._stream(RUN2, until=cls._a_run1_segment_was_deleted,
                                         limit=h.scaled(30))
        cls.stop_time = time.time()
        cls.watcher.stop()
        cls.cam.stop()
        cls.infos = h.probe_many([r.copy for r in cls.watcher.segment_records().values()])

    @classmethod
    def _a_run1_segment_was_deleted(cls):
        records = cls.watcher.segment_records()
        return any(records[n].deleted_at is not None for n in cls.run1_files if n in records)

    @classmethod
    def _cleanup(cls):
        if cls.daemon is not None:
            cls.daemon.stop(signal.SIGKILL, timeout=5)
        if cls.watcher is not None and cls.watcher.is_alive():
            cls.watcher.stop()
        cls.cam.stop(signal.SIGKILL)
        h.kill_all_started()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)


    def run2_segments(self):
        return {msn: s for msn, (s, _, run) in self.watcher.all_segments().items() if run == 2}

    def last_run1_msn(self):
        self.assertIsNotNone(self.run1_final, "run 1 never wrote a playlist")
        self.assertTrue(self.run1_final.segments, "run 1's playlist has no segments")
        return self.run1_final.segments[-1].msn

    # --

    def test_both_runs_stop_on_sigterm_with_status_0(self):
        self.assertEqual(self.rc1, 0, "run 1 exit status (None = had to be SIGKILLed)")
        self.assertEqual(self.rc2, 0, "run 2 exit status (None = had to be SIGKILLed)")
        self.assertLess(self.stop1, h.scaled(5))
        self.assertLess(self.stop2, h.scaled(5))
        self.assertEqual(self.run1_dotfiles, [], "temporary files left by run 1")
        self.assertEqual(h.dotfiles(self.camdir), [], "temporary files left by run 2")
        self.assertEqual(self.daemon.sanitizer_reports(), [])

    def test_clean_runs_log_no_errors(self):
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines in a run without faults")

    def test_media_sequence_continues_after_the_restart(self):
        last = self.last_run1_msn()
        new = self.run2_segments()
        self.assertGreaterEqual(len(new), 3, "run 2 listed too few new segments")
        self.assertEqual(min(new), last + 1, f"run 1 ended at msn {last}")
        pls2 = [pl for _, pl, run in self.watcher.playlists() if run == 2]
        for pl in pls2:
            self.assertGreaterEqual(pl.media_sequence, self.run1_final.media_sequence, pl.text)
            self.assertEqual(pl.target_duration, self.run1_final.target_duration, pl.text)

    def test_a_discontinuity_marks_the_join(self):
        last = self.last_run1_msn()
        listed = self.watcher.all_segments()
        self.assertIn(last + 1, listed)
        first_new = listed[last + 1][0]
        self.assertTrue(first_new.discontinuity,
                        f"no EXT-X-DISCONTINUITY before {first_new.uri}")
        others = [s.uri for msn, (s, _, _) in listed.items()
                  if s.discontinuity and msn not in (last + 1, 0)]
        self.assertEqual(others, [], "EXT-X-DISCONTINUITY where nothing jumped")

    def test_playlist_versions_follow_rfc8216_across_the_restart(self):
        problems = [e for e in self.watcher.errors
                    if "reused" not in e and "changed content" not in e]
        problems += h.playlist_history_problems(self.watcher)
        problems += h.file_name_problems(self.watcher)
        h.fail_if(self, problems, "playlists")

    def test_no_file_name_is_reused(self):
        problems = [e for e in self.watcher.errors if "reused" in e or "changed content" in e]
        for name, rec in self.watcher.segment_records().items():
            if len(rec.contents) != 1:
                problems.append(f"{name} held {len(rec.contents)} different contents")
        new_names = {s.uri for s in self.run2_segments().values()}
        reused = sorted(new_names & set(self.run1_all))
        if reused:
            problems.append(f"run 2 listed names run 1 had written: {reused}")
        h.fail_if(self, problems, "file names")

    def test_segments_of_both_runs_are_valid(self):
        problems = []
        records = self.watcher.segment_records()
        for name, rec in sorted(records.items()):
            problems += h.segment_problems(name, self.infos[rec.copy], width=854, height=480,
                                           fps=15, audio=True, target=SEGMENT)
        last = self.last_run1_msn()
        short_ok = {last, max(self.watcher.all_segments())}
        problems += h.listed_segment_problems(
            self.watcher, {r.copy: self.infos[r.copy] for r in records.values()}, 15, short_ok)
        p, lags = h.pdt_problems(self.watcher, 15, late=1.0 * h.SCALE)
        problems += p
        first_new = self.watcher.all_segments().get(last + 1)
        if first_new and first_new[0].pdt is not None and first_new[0].pdt < self.restart_time:
            problems.append(f"{first_new[0].uri}: PDT {first_new[0].pdt_text} before run 2 started")
        h.fail_if(self, problems, "segments")

    def test_segments_run_2_no_longer_lists_are_deleted_after_the_grace_period(self):
        records = self.watcher.segment_records()
        unlisted = self.watcher.unlisted_times()
        problems = []
        deleted = [n for n in self.run1_files if records[n].deleted_at is not None]
        self.assertTrue(deleted, "no segment of run 1 was deleted during run 2")
        for name in sorted(self.run1_files):
            rec = records[name]
            msn = int(name[len("segment_"):-3])
            u = unlisted.get(msn)
            if u is None:
                continue            # still listed at the end
            if rec.deleted_at is None:
                if u + GRACE + SEGMENT + 1.0 * h.SCALE < self.stop_time:
                    problems.append(f"{name} left the playlist at {h.iso(u)} and was never "
                                    f"deleted")
            elif rec.deleted_at - u < GRACE - 0.15:
                problems.append(f"{name} deleted {rec.deleted_at - u:.2f} s after leaving the "
                                f"playlist (grace {GRACE} s)")
        h.fail_if(self, problems, "run 1's segments")


if __name__ == "__main__":
    h.run_tests()
