#!/usr/bin/env python3
"""The camera dies for 10 s mid-stream and comes back on the same port (issue 2, "What it
must show" item 3, first half).

edgestream (reference list-form config, `--camera`, `--root`) streams the test camera for
about 8 s; the camera is SIGKILLed (a camera that just dies: no RTSP TEARDOWN, no BYE),
stays away 10 s, and is restarted on the same port. edgestream must keep running (same
PID), log the loss, log `event=connected` within 2 s of the camera's `ready`, be streaming
again within 2 s (the first new segment's first frame was captured no later than 2 s after
`ready`), mark the join with EXT-X-DISCONTINUITY and never let the media sequence go back.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CAM = "cam_loss"
SEGMENT = 2
KEEP = 3
BEFORE_LOSS = 8.0
OUTAGE = 10.0
AFTER_RETURN = 12.0     # enough for KEEP new segments, so the DISCONTINUITY tag leaves
RETURN_BOUND = 2.0      # the "within 2 s of the camera's return"


class CameraLossTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("camera-loss")
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
    def _run(cls):
        url = cls.cam.start()
        config = h.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera(CAM, url, target_width=854, target_fps=15, segment_duration=SEGMENT,
                     segments_to_keep=KEEP, reconnect_max_ms=1000)], form="list")
        cls.watcher = h.DirWatcher(os.path.join(cls.root, "location_1", CAM),
                                   os.path.join(cls.wd, "copies"))
        cls.watcher.start()
        cls.daemon = h.Daemon(cls.wd, ["--config", config, "--camera", CAM, "--root", cls.root,
                                       "--quiet"])
        cls.daemon.start()
        cls.pid = cls.daemon.pid
        cls.deaths = []

        def watch_alive(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if not cls.daemon.alive():
                    cls.deaths.append((time.time(), cls.daemon.returncode()))
                    raise AssertionError(f"edgestream exited with {cls.daemon.returncode()}")
                time.sleep(0.1)

        h.wait_for(lambda: (cls.watcher.latest() and cls.watcher.latest().segments)
                   or not cls.daemon.alive(), h.scaled(20), what="the first segment")
        cls.first_connect = h.wait_event(cls.daemon, CAM, "connected", timeout=h.scaled(5))
        watch_alive(BEFORE_LOSS)

        # The camera dies.
        cls.kill_time = time.time()
        cls.last_msn_before = max(cls.watcher.all_segments())
        lines_before = len(cls.daemon.log_lines())
        cls.cam.kill()
        cls.disconnect = None
        try:
            cls.disconnect = h.wait_event(cls.daemon, CAM, "disconnected",
                                          timeout=h.scaled(8), after_line=lines_before)
        except TimeoutError:
            pass
        watch_alive(cls.kill_time + OUTAGE - time.time())

        # It comes back on the same port.
        lines_before_return = len(cls.daemon.log_lines())
        cls.cam.start()
        cls.ready_time = cls.cam.ready_time
        cls.reconnect = None
        try:
            cls.reconnect = h.wait_event(cls.daemon, CAM, "connected", timeout=h.scaled(10),
                                         after_line=lines_before_return)
        except TimeoutError:
            pass
        watch_alive(cls.ready_time + AFTER_RETURN - time.time())
        cls.pid_at_end = cls.daemon.pid
        cls.alive_at_end = cls.daemon.alive()
        cls.exit_status = cls.daemon.stop(signal.SIGTERM, timeout=h.scaled(10))
        cls.watcher.stop()
        cls.cam.stop()
        cls.infos = h.probe_many([r.copy for r in cls.watcher.segment_records().values()])

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


    def new_segments(self):
        """Segments whose first frame was captured after the camera came back."""
        return {msn: s for msn, (s, _, _) in self.watcher.all_segments().items()
                if s.pdt is not None and s.pdt >= self.ready_time - 0.2}

    # --

    def test_edgestream_keeps_running_through_the_loss(self):
        self.assertEqual(self.deaths, [])
        self.assertTrue(self.alive_at_end)
        self.assertEqual(self.pid_at_end, self.pid)
        self.assertEqual(self.exit_status, 0, "exit status after SIGTERM")
        self.assertEqual(self.daemon.sanitizer_reports(), [])

    def test_the_loss_is_logged_as_a_warning(self):
        self.assertIsNotNone(self.disconnect, "no camera=cam_loss event=disconnected line "
                             "within 8 s of the camera's death")
        _, line, seen, parsed = self.disconnect
        self.assertEqual(parsed[1], "WARN", line)
        self.assertEqual(parsed[2], "source", line)
        self.assertIn("reason", parsed[3], line)
        sys.stderr.write(f"disconnect logged {seen - self.kill_time:.2f} s after the kill\n")

    def test_reconnects_within_2s_of_the_cameras_return(self):
        self.assertIsNotNone(self.reconnect, "no event=connected after the camera returned")
        _, line, seen, parsed = self.reconnect
        self.assertEqual(parsed[1], "INFO", line)
        self.assertEqual(parsed[3].get("url"), self.cam.url, line)
        after = seen - self.ready_time
        logged_after = h.log_time(parsed) - self.ready_time
        sys.stderr.write(f"reconnect seen {after:.2f} s (logged {logged_after:.2f} s) after "
                         f"the camera's ready line\n")
        self.assertLessEqual(after, RETURN_BOUND * h.SCALE, line)
        self.assertLessEqual(logged_after, RETURN_BOUND * h.SCALE, line)

    def test_streaming_again_within_2s_of_the_cameras_return(self):
        new = self.new_segments()
        self.assertGreaterEqual(len(new), KEEP, f"only {len(new)} segments after the return")
        first = new[min(new)]
        rec = self.watcher.segment_records()[first.uri]
        sys.stderr.write(f"first new segment {first.uri}: first frame {first.pdt - self.ready_time:.2f} s, "
                         f"file {rec.first_seen - self.ready_time:.2f} s after ready\n")
        self.assertLessEqual(first.pdt - self.ready_time, RETURN_BOUND * h.SCALE,
                             f"{first.uri} starts at {first.pdt_text}")
        self.assertLessEqual(rec.first_seen - self.ready_time,
                             (RETURN_BOUND + SEGMENT + 1.0) * h.SCALE)

    def test_playlist_marks_the_join_with_a_discontinuity(self):
        new = self.new_segments()
        self.assertTrue(new)
        first = min(new)
        listed = self.watcher.all_segments()
        self.assertTrue(listed[first][0].discontinuity,
                        f"no EXT-X-DISCONTINUITY before {listed[first][0].uri}")
        others = [s.uri for msn, (s, _, _) in listed.items()
                  if s.discontinuity and msn not in (first, 0)]
        self.assertEqual(others, [], "EXT-X-DISCONTINUITY where nothing jumped")
        # Once the tagged segment has left the window, DISCONTINUITY-SEQUENCE says so.
        after = [pl for _, pl, _ in self.watcher.playlists() if pl.media_sequence > first]
        self.assertTrue(after, "the run was too short for the tag to leave the window")
        for pl in after:
            self.assertTrue(pl.has_discontinuity_sequence_tag, pl.text)
            self.assertEqual(pl.discontinuity_sequence,
                             1 + (1 if listed.get(0) and listed[0][0].discontinuity else 0),
                             pl.text)

    def test_media_sequence_keeps_growing(self):
        problems = list(self.watcher.errors)
        problems += h.playlist_history_problems(self.watcher)
        problems += h.file_name_problems(self.watcher)
        msns = sorted(self.watcher.all_segments())
        if msns != list(range(msns[0], msns[-1] + 1)):
            problems.append(f"media sequence numbers with holes: {msns}")
        new = self.new_segments()
        if new and min(new) <= self.last_msn_before:
            problems.append(f"first msn after the return {min(new)} <= {self.last_msn_before}, "
                            f"the last listed before the loss")
        h.fail_if(self, problems, "media sequence across the loss")

    def test_segments_stay_valid_across_the_loss(self):
        problems = []
        records = self.watcher.segment_records()
        for name, rec in sorted(records.items()):
            problems += h.segment_problems(name, self.infos[rec.copy], width=854, height=480,
                                           fps=15, audio=True, target=SEGMENT)
        # The segment cut short by the loss may be short; so may the last one.
        new = self.new_segments()
        listed = self.watcher.all_segments()
        short_ok = {max(listed)}
        if new:
            short_ok.add(min(new) - 1)
        problems += h.listed_segment_problems(
            self.watcher, {r.copy: self.infos[r.copy] for r in records.values()}, 15, short_ok)
        p, lags = h.pdt_problems(self.watcher, 15, late=1.0 * h.SCALE)
        problems += p
        h.fail_if(self, problems, "segments")


if __name__ == "__main__":
    h.run_tests()
