#!/usr/bin/env python3
"""edgestream streams the real test camera to a local directory: every segment and every
playlist version is checked (issue 2, "What it must show" item 2).

One edgestream process (`--all`, mapping-form config with a `storage:` root) streams for
about 28 s:
  cam_main    test camera with audio, the reference settings (854 wide, 15 fps, 2 s, keep 5);
              default delete grace, so nothing of it may be deleted during the run
  cam_grace   the same camera, keep 3, delete_grace 8 s (the least edgestream accepts),
              location shop_2: deletions are seen, each no sooner than 8 s after leaving
  cam_silent  a second test camera started with --no-audio, no settings at all (defaults)
  cam_copy    transcode: copy of the first camera: 1280x720 25 fps H.264 as sent
  cam_off     enabled: false: must write nothing
While it runs, a direct RTSP client checks that the test camera's RTCP sender reports
agree with this machine's clock, so a PDT failure can be blamed on the right program.
"""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

STREAM_SECONDS = 28
SEGMENT = 2
GRACE = 8.0   # the least edgestream accepts for 2 s x keep 3: RFC 8216 §6.2.2, 2 x (3 + 1)
POLL = 0.05


class PipelineTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("pipeline")
        cls.root = os.path.join(cls.wd, "root")
        cls.cam = h.TestCam(cls.wd, "testcam-audio")
        cls.silent_cam = h.TestCam(cls.wd, "testcam-noaudio", path="/quiet", audio=False)
        cls.daemon = None
        cls.watchers = {}
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            cls._cleanup()
            raise

    @classmethod
    def _run(cls):
        url = cls.cam.start()
        quiet_url = cls.silent_cam.start()
        cameras = [
            h.camera("cam_main", url, target_width=854, target_fps=15, segment_duration=SEGMENT,
                     segments_to_keep=5),
            h.camera("cam_grace", url, location="shop_2", target_width=854, target_fps=15,
                     segment_duration=SEGMENT, segments_to_keep=3, delete_grace=GRACE),
            h.camera("cam_silent", quiet_url),
            h.camera("cam_copy", url, segment_duration=SEGMENT, segments_to_keep=5,
                     transcode="copy"),
            h.camera("cam_off", url, enabled=False),
        ]
        config = h.write_config(os.path.join(cls.wd, "cameras.yaml"), cameras, root=cls.root,
                                form="mapping")
        dirs = {"cam_main": "location_1/cam_main", "cam_grace": "shop_2/cam_grace",
                "cam_silent": "location_1/cam_silent", "cam_copy": "location_1/cam_copy"}
        for cam_id, rel in dirs.items():
            w = h.DirWatcher(os.path.join(cls.root, rel), os.path.join(cls.wd, "copies", cam_id),
                             interval=POLL)
            w.start()
            cls.watchers[cam_id] = w

        # The test camera's own clock, measured by a direct client alongside edgestream.
        cls.sr_offsets = None
        cls.sr_error = None

        def measure():
            try:
                cls.sr_offsets = h.rtcp_sender_report_offsets(url, 8)
            except Exception as e:  # reported by its test
                cls.sr_error = repr(e)
        sr_thread = threading.Thread(target=measure, daemon=True)

        cls.daemon = h.Daemon(cls.wd, ["--config", config, "--all", "--quiet",
                                       "--log-level", "info"])
        cls.daemon.start()
        cls.pid = cls.daemon.pid
        h.wait_for(lambda: all(w.latest() and w.latest().segments for w in cls.watchers.values())
                   or not cls.daemon.alive(), h.scaled(20), what="a first segment from every camera")
        if not cls.daemon.alive():
            raise AssertionError(f"edgestream exited early with {cls.daemon.returncode()}")
        sr_thread.start()
        deadline = time.monotonic() + STREAM_SECONDS
        cls.died_at = None
        while time.monotonic() < deadline:
            if not cls.daemon.alive():
                cls.died_at = time.time()
                break
            time.sleep(0.2)
        cls.alive_until_stop = cls.daemon.alive()
        cls.stop_time = time.time()
        cls.exit_status = cls.daemon.stop(signal.SIGTERM, timeout=h.scaled(10))
        cls.stopped_after = time.time() - cls.stop_time
        for w in cls.watchers.values():
            w.stop()
        sr_thread.join(timeout=h.scaled(15))
        cls.cam.stop()
        cls.silent_cam.stop()
        copies = [r.copy for w in cls.watchers.values() for r in w.segment_records().values()]
        cls.infos = h.probe_many(copies)

    @classmethod
    def _cleanup(cls):
        if cls.daemon is not None:
            cls.daemon.stop(signal.SIGKILL, timeout=5)
        for w in cls.watchers.values():
            if w.is_alive():
                w.stop()
        cls.cam.stop(signal.SIGKILL)
        cls.silent_cam.stop(signal.SIGKILL)
        h.kill_all_started()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)


    # -- helpers --

    def infos_for(self, cam_id):
        w = self.watchers[cam_id]
        return {n: self.infos[r.copy] for n, r in sorted(w.segment_records().items())}

    def check_segments(self, cam_id, **expect):
        w = self.watchers[cam_id]
        infos = self.infos_for(cam_id)
        self.assertGreaterEqual(len(infos), 8, f"{cam_id}: only {len(infos)} segments in "
                                f"{STREAM_SECONDS} s")
        problems = []
        for name, info in infos.items():
            problems += h.segment_problems(f"{cam_id}/{name}", info, target=SEGMENT, **expect)
        # The last segment may be the one flushed at the stop: allowed to be short.
        last = max(w.all_segments())
        problems += h.listed_segment_problems(w, {r.copy: self.infos[r.copy] for r in
                                                  w.segment_records().values()},
                                              expect["fps"], short_ok={last})
        h.fail_if(self, problems, f"{cam_id} segments")

    # -- the process --

    def test_daemon_runs_until_sigterm_and_exits_0(self):
        self.assertIsNone(self.died_at, f"edgestream died during the run "
                          f"(status {self.daemon.returncode()})")
        self.assertTrue(self.alive_until_stop)
        self.assertEqual(self.exit_status, 0, "exit status after SIGTERM (None = had to be "
                         "SIGKILLed)")
        self.assertLess(self.stopped_after, h.scaled(5), "SIGTERM took too long")

    def test_no_sanitizer_reports(self):
        self.assertEqual(self.daemon.sanitizer_reports(), [])

    def test_logs_are_key_value_lines_and_name_each_camera(self):
        h.fail_if(self, h.log_format_problems(self.daemon), "stderr log format")
        for cam_id in self.watchers:
            h.wait_event(self.daemon, cam_id, "connected", timeout=0)
        lines = [h.parse_log_line(l) for l in self.daemon.log_lines()]
        off = [l for l in lines if l and l[3].get("camera") == "cam_off" and
               l[3].get("event") == "connected"]
        self.assertEqual(off, [], "the disabled camera was connected")

    def test_a_clean_run_logs_no_errors(self):
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines in a run without faults")

    def test_disabled_camera_writes_nothing(self):
        for loc in os.listdir(self.root):
            self.assertFalse(os.path.exists(os.path.join(self.root, loc, "cam_off")),
                             f"{loc}/cam_off exists")

    # -- segments --

    def test_transcoded_segments_are_h264_854x480_15fps_with_aac_starting_on_idr(self):
        self.check_segments("cam_main", width=854, height=480, fps=15, audio=True)

    def test_second_camera_same_source_same_checks(self):
        self.check_segments("cam_grace", width=854, height=480, fps=15, audio=True)

    def test_camera_without_audio_gives_segments_without_audio(self):
        self.check_segments("cam_silent", width=854, height=480, fps=15, audio=False)

    def test_passthrough_keeps_the_cameras_h264_1280x720_25fps(self):
        self.check_segments("cam_copy", width=1280, height=720, fps=25, audio=True)

    # -- playlists --

    def test_playlists_parse_strictly_and_only_ever_append(self):
        problems = []
        for cam_id, w in self.watchers.items():
            problems += [f"{cam_id}: {e}" for e in w.errors]
            problems += [f"{cam_id}: {e}" for e in h.playlist_history_problems(w)]
            problems += [f"{cam_id}: {e}" for e in h.file_name_problems(w)]
        h.fail_if(self, problems, "playlists")

    def test_playlist_header_and_window(self):
        keep = {"cam_main": 5, "cam_grace": 3, "cam_silent": 5, "cam_copy": 5}
        for cam_id, w in self.watchers.items():
            pls = [pl for _, pl, _ in w.playlists()]
            self.assertGreater(len(pls), 5, f"{cam_id}: only {len(pls)} playlist versions")
            for pl in pls:
                self.assertEqual(pl.version, 3, f"{cam_id}: EXT-X-VERSION\n{pl.text}")
                self.assertEqual(pl.target_duration, SEGMENT, f"{cam_id}: TARGETDURATION")
                self.assertTrue(pl.independent_segments, f"{cam_id}: no INDEPENDENT-SEGMENTS")
                if len(pl.segments) > keep[cam_id]:
                    # More than segments_to_keep only to stay >= 3 target durations.
                    rest = sum(x.duration for x in pl.segments[1:])
                    self.assertLess(rest, 3 * SEGMENT, f"{cam_id}: window longer than "
                                    f"segments_to_keep\n{pl.text}")
                self.assertEqual(pl.discontinuity_sequence, 0, f"{cam_id}\n{pl.text}")
                tagged = [s.msn for s in pl.segments if s.discontinuity and s.msn != 0]
                self.assertEqual(tagged, [], f"{cam_id}: EXT-X-DISCONTINUITY in a run without "
                                 f"any timestamp jump\n{pl.text}")
            final = pls[-1]
            self.assertGreaterEqual(len(final.segments), keep[cam_id],
                             f"{cam_id}: final window\n{final.text}")
            self.assertGreater(final.media_sequence, pls[0].media_sequence,
                               f"{cam_id}: MEDIA-SEQUENCE never advanced")

    def test_playlist_never_shrinks_below_three_target_durations(self):
        # RFC 8216 §6.2.2: "The server MUST NOT remove a Media Segment from a Playlist file
        # without an EXT-X-ENDLIST tag if that would produce a Playlist whose duration is
        # less than three times the target duration." (e.g. when the segment flushed at a
        # stop is short, the window must keep one more segment, or end with ENDLIST).
        problems = []
        for cam_id, w in self.watchers.items():
            for t, pl, _ in w.playlists():
                if pl.media_sequence > 0 and not pl.endlist and \
                        pl.duration() < 3 * pl.target_duration - 0.01:
                    problems.append(f"{cam_id} at {h.iso(t)}: {pl.duration():.3f} s after "
                                    f"removing segments:\n{pl.text}")
        h.fail_if(self, problems, "playlist duration")

    def test_a_new_segment_is_listed_every_target_duration(self):
        # RFC 8216 §6.2.1: a new playlist version with a new segment 0.5-1.5x target
        # duration after the previous one (plus our 50 ms polling).
        problems = []
        for cam_id, w in self.watchers.items():
            listed = sorted((t, s.msn) for s, t, _ in w.all_segments().values())
            for (t0, m0), (t1, m1) in zip(listed[1:], listed[2:]):
                if t1 - t0 > 1.5 * SEGMENT + 0.3 * h.SCALE:
                    problems.append(f"{cam_id}: msn {m1} listed {t1 - t0:.2f} s after msn {m0}")
        h.fail_if(self, problems, "playlist update cadence")

    def test_program_date_time_is_within_1s_of_the_wall_clock(self):
        problems = []
        summary = []
        for cam_id, w in self.watchers.items():
            fps = 25 if cam_id == "cam_copy" else 15
            p, lags = h.pdt_problems(w, fps, late=1.0 * h.SCALE)
            problems += [f"{cam_id}: {x}" for x in p]
            if lags:
                summary.append(f"{cam_id} lag {min(lags):+.3f}..{max(lags):+.3f} s")
        sys.stderr.write("PDT: " + "; ".join(summary) + "\n")
        h.fail_if(self, problems, "PROGRAM-DATE-TIME")

    def test_test_camera_sender_reports_follow_the_wall_clock(self):
        self.assertIsNone(self.sr_error)
        self.assertTrue(self.sr_offsets, "no RTP after the first sender report")
        lo, hi = min(self.sr_offsets), max(self.sr_offsets)
        sys.stderr.write(f"testcam RTCP SR: arrival - capture {lo * 1000:.1f}..{hi * 1000:.1f} ms "
                         f"over {len(self.sr_offsets)} packets\n")
        self.assertGreaterEqual(lo, -0.02)
        self.assertLessEqual(hi, 0.3 * h.SCALE)

    # -- storage --

    def test_segments_are_deleted_after_the_grace_period_not_before(self):
        w = self.watchers["cam_grace"]
        records = w.segment_records()
        unlisted = w.unlisted_times()
        listed = w.all_segments()
        deleted = 0
        problems = []
        for msn, (s, _, _) in sorted(listed.items()):
            rec = records.get(s.uri)
            if rec is None:
                continue
            u = unlisted.get(msn)
            if rec.deleted_at is not None:
                if u is None:
                    problems.append(f"{s.uri} deleted at {h.iso(rec.deleted_at)} while listed")
                    continue
                deleted += 1
                out_for = rec.deleted_at - u
                # Each observation is late by at most one poll: the observed interval is at
                # least the real one minus one poll.
                if out_for < GRACE - POLL - 0.1:
                    problems.append(f"{s.uri} deleted {out_for:.2f} s after leaving the "
                                    f"playlist (grace {GRACE} s)")
                if out_for > GRACE + SEGMENT + 1.0 * h.SCALE:
                    problems.append(f"{s.uri} deleted only {out_for:.2f} s after leaving the "
                                    f"playlist (grace {GRACE} s)")
            elif u is not None and u + GRACE + SEGMENT + 1.0 * h.SCALE < self.stop_time:
                problems.append(f"{s.uri} left the playlist at {h.iso(u)} and was never deleted")
        h.fail_if(self, problems, "delayed delete")
        self.assertGreaterEqual(deleted, 3, "too few deletions seen to judge")

    def test_default_grace_keeps_segments_for_the_whole_run(self):
        # Default grace = playlist duration + 30 s > this run: nothing may be deleted.
        for cam_id in ("cam_main", "cam_silent", "cam_copy"):
            gone = sorted(n for n, r in self.watchers[cam_id].segment_records().items()
                          if r.deleted_at is not None)
            self.assertEqual(gone, [], f"{cam_id}: deleted within the default grace")

    def test_no_temporary_files_left_after_a_clean_stop(self):
        for cam_id, w in self.watchers.items():
            self.assertEqual(h.dotfiles(w.camdir), [], f"{cam_id}: leftover temporary files")


if __name__ == "__main__":
    h.run_tests()
