#!/usr/bin/env python3
"""The local sink on a full disk and on a read-only remount (issue 13, "The box runs for
days" and "Disk full").

The sink's root is a tmpfs of 4 MiB. A test camera at a high bit rate (~0.5 MB a
segment), passed through (`transcode: copy`), with the shortest delete grace allowed, so
the sink itself keeps the disk about half full and frees space every second. Then:

  1. full: another writer (a "ballast" thread, as a runaway log file would) takes every
     byte that comes free for several seconds. Writes fail with ENOSPC, now and then one
     succeeds (the sink's own deletes free space that the two then race for). The daemon
     stays alive and logs the episode once (one ERROR line, not one per segment);
  2. space returns (the ballast is deleted): new segments appear in the playlist by
     themselves, and the daemon logs `event=write_recovered` once;
  3. read-only: the file system is remounted read-only (`mount -o remount,ro`): writes
     and deletes fail; again one ERROR line (the error changed: "Read-only file system"),
     the daemon stays alive;
  4. read-write again: new segments appear, `write_recovered` is logged, and the segments
     whose deletes failed while read-only are deleted after all (none left behind).

Throughout, a poller reads the playlist every 100 ms: every version parses (the strict
RFC 8216 parser of harness.py) and every segment it names exists at that moment (checked
just after reading it; the sink deletes a segment only after the grace period, so a named
file that is missing is a defect, not a race). The tmpfs is unmounted in `finally`.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402

CAM = "cam_disk"
SEGMENT = 1
KEEP = 3
BITRATE_KBPS = 3000         # ~0.4 MB a segment
GRACE = 4                   # the least allowed: segment_duration x (segments_to_keep + 1)
FULL_FOR = 10.0             # seconds the disk stays full before space is freed
READ_ONLY_FOR = 8.0
RECOVER_BOUND = 20.0        # generous: new segments after space returns


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")


class PlaylistPoller(threading.Thread):
    """Reads the playlist every `interval` seconds and records every problem: a version that
    does not parse, or a name that does not exist right after the playlist was read."""

    def __init__(self, camdir, interval=0.1):
        super().__init__(daemon=True)
        self.camdir = camdir
        self.interval = interval
        self.polls = 0
        self.problems = []
        self.latest = None          # (time, Playlist)
        self.versions = 0
        self.discontinuities = set()    # msns ever listed with EXT-X-DISCONTINUITY
        self.listed = set()             # msns ever listed
        self._last_text = None
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.wait(self.interval):
            self.poll()

    def stop(self):
        self._stop_event.set()
        self.join(10)

    def poll(self):
        path = os.path.join(self.camdir, "stream.m3u8")
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return              # not written yet
        self.polls += 1
        try:
            pl = h.parse_playlist(text)
        except h.PlaylistError as e:
            self.problems.append(f"{h.iso(time.time())}: playlist does not parse: {e}")
            return
        for seg in pl.segments:
            if not os.path.exists(os.path.join(self.camdir, seg.uri)):
                self.problems.append(f"{h.iso(time.time())}: playlist (media sequence "
                                     f"{pl.media_sequence}) names {seg.uri}, which is missing")
        self.discontinuities.update(s.msn for s in pl.segments if s.discontinuity)
        self.listed.update(s.msn for s in pl.segments)
        if text != self._last_text:
            self.versions += 1
            self._last_text = text
        self.latest = (time.time(), pl)


class Ballast(threading.Thread):
    """Another writer on the same disk: takes every byte that comes free, until stopped."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.written = 0
        self.full_seen = False
        self._stop_event = threading.Event()

    def run(self):
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        chunk = b"\0" * 16384
        try:
            while not self._stop_event.is_set():
                try:
                    self.written += os.write(fd, chunk)
                except OSError:
                    self.full_seen = True
                    self._stop_event.wait(0.01)
        finally:
            os.close(fd)

    def stop(self):
        self._stop_event.set()
        self.join(10)
        os.unlink(self.path)


class DiskFullTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("disk-full")
        cls.root = os.path.join(cls.wd, "root")
        os.makedirs(cls.root)
        cls.mounted = False
        cls.cam = h.TestCam(cls.wd, "testcam", audio=False,
                            extra_args=["--width", "640", "--height", "360", "--fps", "25",
                                        "--gop", "25", "--bitrate", str(BITRATE_KBPS)])
        cls.daemon = None
        cls.poller = None
        cls.phases = {}
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            cls._cleanup()
            raise

    @classmethod
    def _mount(cls, options):
        run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", cls.root])
        cls.mounted = True

    @classmethod
    def _remount(cls, options):
        run(["mount", "-o", "remount," + options, cls.root])

    @classmethod
    def _alive_for(cls, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not cls.daemon.alive():
                raise AssertionError(f"edgestream exited with {cls.daemon.returncode()}")
            time.sleep(0.1)

    @classmethod
    def _last_msn(cls):
        latest = cls.poller.latest
        return latest[1].last_msn() if latest else -1

    @classmethod
    def _wait_new_segments(cls, after_msn, count, what):
        h.wait_for(lambda: cls._last_msn() >= after_msn + count or not cls.daemon.alive(),
                   h.scaled(RECOVER_BOUND), interval=0.1, what=what)
        if not cls.daemon.alive():
            raise AssertionError(f"edgestream exited with {cls.daemon.returncode()}")

    @classmethod
    def _segment_files(cls):
        return sorted(n for n in os.listdir(cls.camdir) if re.fullmatch(r"segment_\d+\.ts", n))

    @classmethod
    def _run(cls):
        # mount(8) is in Debian's essential `mount` package; the test needs root (as the
        # suite runs) to mount a tmpfs.
        cls._mount("size=4m,mode=0755")
        url = cls.cam.start()
        config = oh.write_config(
            os.path.join(cls.wd, "cameras.yaml"),
            [h.camera(CAM, url, transcode="copy", segment_duration=SEGMENT,
                      segments_to_keep=KEEP, delete_grace=GRACE, audio="off")],
            origin={"enabled": False}, root=cls.root)
        cls.camdir = os.path.join(cls.root, "location_1", CAM)
        cls.poller = PlaylistPoller(cls.camdir)
        cls.poller.start()
        cls.daemon = h.Daemon(cls.wd, ["--config", config, "--all", "--quiet"])
        cls.daemon.start()

        # 1. The disk fills up.
        h.wait_for(lambda: cls._last_msn() >= KEEP + GRACE or not cls.daemon.alive(),
                   h.scaled(30), what="a full window and grace's worth of segments")
        ballast = Ballast(os.path.join(cls.root, "ballast"))
        ballast.start()
        cls.full_event = h.wait_event(cls.daemon, CAM, "write_failed", timeout=h.scaled(10))
        cls._alive_for(FULL_FOR)

        # 2. Space returns.
        cls.ballast_full_seen = ballast.full_seen
        cls.msn_before_free = cls._last_msn()
        lines = len(cls.daemon.log_lines())
        ballast.stop()
        cls._wait_new_segments(cls.msn_before_free, 2, "new segments after space was freed")
        cls.free_recovered = h.wait_event(cls.daemon, CAM, "write_recovered",
                                          timeout=h.scaled(RECOVER_BOUND), after_line=lines)

        # 3. Read-only.
        cls._remount("ro")
        cls.phases["ro_at"] = time.time()
        lines = len(cls.daemon.log_lines())
        cls.ro_event = h.wait_event(cls.daemon, CAM, "write_failed", timeout=h.scaled(10),
                                    after_line=lines)
        cls._alive_for(READ_ONLY_FOR)

        # 4. Read-write again, with room to spare.
        cls.msn_before_rw = cls._last_msn()
        lines = len(cls.daemon.log_lines())
        cls._remount("rw")
        cls._wait_new_segments(cls.msn_before_rw, 2, "new segments after the read-write remount")
        cls.rw_recovered = h.wait_event(cls.daemon, CAM, "write_recovered",
                                        timeout=h.scaled(RECOVER_BOUND), after_line=lines)
        # Every segment that left the playlist is gone after its grace (plus the tick).
        cls._alive_for(GRACE + 3 * SEGMENT)
        cls.files_at_end = cls._segment_files()
        cls.playlist_at_end = cls.poller.latest[1]
        cls.alive_at_end = cls.daemon.alive()
        cls.poller.stop()
        cls.poller.poll()
        cls.exit_status = cls.daemon.stop(signal.SIGTERM, timeout=h.scaled(10))

    @classmethod
    def _cleanup(cls):
        if cls.daemon is not None:
            cls.daemon.stop(signal.SIGKILL, timeout=5)
        if cls.poller is not None and cls.poller.is_alive():
            cls.poller.stop()
        cls.cam.stop(signal.SIGKILL)
        h.kill_all_started()
        if cls.mounted:
            subprocess.run(["umount", "-l", cls.root], capture_output=True, timeout=30)
            cls.mounted = False

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)

    def test_daemon_survives(self):
        self.assertTrue(self.alive_at_end, "edgestream died on the full or read-only disk")
        self.assertEqual(self.exit_status, 0, "edgestream did not stop cleanly afterwards")

    def test_playlist_valid_at_every_poll(self):
        self.assertGreater(self.poller.polls, 100, "too few polls to judge")
        h.fail_if(self, self.poller.problems, "playlist polls that were invalid")

    def test_failures_logged_once_per_change(self):
        errors = [l for l in self.daemon.error_lines() if "event=write_failed" in l]
        # One per episode and kind (segment, playlist): two episodes, at most two kinds.
        self.assertGreaterEqual(len(errors), 2, errors)
        self.assertLessEqual(len(errors), 4, "write failures logged per segment:\n" +
                             "\n".join(errors))
        self.assertTrue(any("No space left on device" in l for l in errors), errors)
        self.assertTrue(any("Read-only file system" in l for l in errors), errors)
        for line in errors:
            self.assertIn(f"camera={CAM}", line)

    def test_no_repeated_warnings(self):
        # A read-only disk also fails deletes: one line per episode, not one per file.
        warns = [l for l in self.daemon.all_log_lines()
                 if (h.parse_log_line(l) or (None, None))[1] in ("WARN", "ERROR")
                 and "sink.local" in l]
        self.assertLessEqual(len(warns), 10, "\n".join(warns))

    def test_recovers_by_itself(self):
        self.assertTrue(self.ballast_full_seen, "the disk never filled")
        self.assertIsNotNone(self.free_recovered)
        self.assertIsNotNone(self.rw_recovered)
        recovered = [l for l in self.daemon.all_log_lines() if "event=write_recovered" in l]
        self.assertLessEqual(len(recovered), 4, "\n".join(recovered))

    def test_dropped_segments_marked_with_a_discontinuity(self):
        # Segments not stored while the disk was full or read-only are a gap in the
        # stream: the first one listed after each episode starts a new discontinuity.
        for before in (self.msn_before_free, self.msn_before_rw):
            first = min(m for m in self.poller.listed if m > before)
            self.assertGreater(first, before + 1, f"no segment was dropped after msn {before}")
            self.assertIn(first, self.poller.discontinuities,
                          f"msn {first}, the first listed after {before}, has no "
                          f"EXT-X-DISCONTINUITY: {sorted(self.poller.discontinuities)}")

    def test_nothing_left_behind(self):
        # The window, the grace's worth of segments that left it, one being written, and
        # one tick's slack: anything older leaked (a delete that failed and was forgotten).
        pl = self.playlist_at_end
        stale = [n for n in self.files_at_end
                 if int(n[8:-3]) < pl.media_sequence - GRACE // SEGMENT - 2]
        self.assertEqual(stale, [], f"playlist starts at {pl.media_sequence}")

    def test_no_temp_files_left(self):
        self.assertEqual(h.dotfiles(self.camdir), [])


if __name__ == "__main__":
    h.run_tests()
