#!/usr/bin/env python3
"""Permanent store errors are reported once, clearly, and cause no retry storm (issue 3,
"What it must show" item 2, second half).

  - a wrong key from the start: the API gateway answers HTTP 401 "Invalid API key".
    edgestream logs one ERROR that says what is wrong and what to do, keeps streaming
    (here to its local sink), and asks the store again only every `recheck_s` (one
    request). When the store starts accepting the key (rotated on the emulator), uploads
    resume by themselves;
  - the anon key instead of the service key: reads work, every upload gets HTTP 400 with
    statusCode 403 AccessDenied (row-level security) in the body: one ERROR, paced probes;
  - the bucket deleted mid-stream: 400 with statusCode 404 NoSuchBucket, one ERROR naming
    the bucket; when the bucket is back the public playlist is live again.

Requests to the store are counted by the emulator over each bad stretch.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

SEGMENT = 2
KEEP = 5
RECHECK = 4
BAD_STRETCH = 8.0


class PermanentErrorTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("supabase-permanent")
        cls.cam = h.TestCam(cls.wd, "testcam")
        cls.url = cls.cam.start()
        cls.keys = []

    @classmethod
    def tearDownClass(cls):
        h.kill_all_started()
        h.remove_workdir(cls.wd, cls.failed)


    def _start(self, label, emu, key):
        cam = f"cam_{label}"
        root = os.path.join(self.wd, f"root-{label}")
        config = sh.storage_config(os.path.join(self.wd, f"{label}.yaml"), [
            h.camera(cam, self.url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     transcode="copy")], [
            {"backend": "local", "root": root},
            {"backend": "supabase", "url": emu.url, "recheck_s": RECHECK},
        ])
        prefix = f"location_1/{cam}/"
        checker = sh.PlaylistChecker(emu.public_url(prefix + "stream.m3u8"),
                                     emu.public_url(prefix), interval=0.2, refetch=False)
        os.environ["SUPABASE_KEY"] = key
        try:
            daemon = h.Daemon(self.wd, ["--config", config, "--camera", cam, "--quiet"],
                              label=f"edgestream-{label}")
            daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        checker.start()
        return cam, daemon, checker

    def _hold(self, daemon, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertTrue(daemon.alive(), f"edgestream exited with {daemon.returncode()}")
            time.sleep(0.1)

    def _finish(self, daemon, checker, emu):
        rc = daemon.stop(signal.SIGTERM, timeout=h.scaled(15))
        checker.stop()
        emu.stop()
        self.assertEqual(rc, 0)
        h.fail_if(self, daemon.sanitizer_reports(), "sanitizer")
        self.assertEqual(sh.secrets_in_files(self.wd, self.keys), [], "a key leaked")

    def test_wrong_key_is_reported_once_and_probed_rarely(self):
        right, wrong = sh.new_key(), sh.new_key()
        self.keys += [right, wrong]
        emu = sh.Emulator(self.wd, right, label="emulator-key")
        emu.start()
        cam, daemon, checker = self._start("key", emu, wrong)
        daemon.wait_log(r"event=store_rejected", h.scaled(15))
        t0 = time.time()
        r0 = emu.requests()
        self._hold(daemon, BAD_STRETCH)
        r1 = emu.requests()
        rejected = sh.log_events(daemon, "store_rejected")
        errors = daemon.error_lines()
        sys.stderr.write(f"wrong key: {r1 - r0} requests in {time.time() - t0:.1f} s "
                         f"(recheck_s {RECHECK}); the one ERROR:\n  {errors[0]}\n")
        self.assertEqual(len(rejected), 1, "reported once")
        self.assertEqual(len(errors), 1)
        fields = rejected[0][3]
        self.assertEqual(fields["code"], "Unauthorized")
        self.assertIn("key", fields["reason"])
        self.assertIn("SUPABASE_KEY", fields["reason"])
        self.assertLessEqual(r1 - r0, BAD_STRETCH / RECHECK + 1, "one probe per recheck_s")
        self.assertIsNone(checker.latest(), "nothing was stored")
        # The local sink streamed on.
        self.assertTrue(os.path.exists(os.path.join(self.wd, "root-key", "location_1", cam,
                                                    "stream.m3u8")))

        # The store starts accepting our key: the next probe succeeds, uploads resume.
        emu.set_service_key(wrong)
        t_fix = time.time()
        h.wait_for(lambda: checker.latest() is not None, RECHECK + h.scaled(10),
                   what="the public playlist once the key is accepted")
        sys.stderr.write(f"accepted again after {time.time() - t_fix:.1f} s\n")
        daemon.wait_log(r"event=store_accepting", 5)
        self._hold(daemon, 2 * SEGMENT)
        self.assertEqual(len(sh.log_events(daemon, "store_rejected")), 1)
        self._finish(daemon, checker, emu)

    def test_anon_key_is_refused_by_the_envelope_once(self):
        service, anon = sh.new_key(), sh.new_key("anon_")
        self.keys += [service, anon]
        emu = sh.Emulator(self.wd, service, label="emulator-anon", anon_key=anon)
        emu.start()
        cam, daemon, checker = self._start("anon", emu, anon)
        daemon.wait_log(r"event=store_rejected", h.scaled(15))
        t0 = time.time()
        r0 = emu.requests()
        self._hold(daemon, BAD_STRETCH)
        r1 = emu.requests()
        rejected = sh.log_events(daemon, "store_rejected")
        sys.stderr.write(f"anon key: {r1 - r0} requests in {time.time() - t0:.1f} s; the one "
                         f"ERROR:\n  {daemon.error_lines()[0]}\n")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0][3]["code"], "AccessDenied")
        self.assertIn("service-role", rejected[0][3]["reason"])
        self.assertEqual(len(daemon.error_lines()), 1)
        self.assertLessEqual(r1 - r0, BAD_STRETCH / RECHECK + 1)
        self.assertIsNone(checker.latest())
        self._finish(daemon, checker, emu)

    def test_bucket_deleted_mid_stream_is_reported_once_and_recovers(self):
        key = sh.new_key()
        self.keys.append(key)
        emu = sh.Emulator(self.wd, key, label="emulator-bucket")
        emu.start()
        cam, daemon, checker = self._start("bucket", emu, key)
        h.wait_for(lambda: checker.latest() is not None, h.scaled(20),
                   what="the first public playlist")
        self._hold(daemon, 3)
        emu.delete_bucket("streams")
        daemon.wait_log(r"event=store_rejected", h.scaled(10))
        t0 = time.time()
        r0 = emu.requests()
        self._hold(daemon, BAD_STRETCH)
        r1 = emu.requests()
        rejected = sh.log_events(daemon, "store_rejected")
        sys.stderr.write(f"missing bucket: {r1 - r0} requests in {time.time() - t0:.1f} s; "
                         f"the one ERROR:\n  {daemon.error_lines()[0]}\n")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0][3]["code"], "NoSuchBucket")
        self.assertIn("bucket 'streams' does not exist", rejected[0][3]["reason"])
        self.assertLessEqual(r1 - r0, BAD_STRETCH / RECHECK + 1)

        emu.create_bucket("streams")
        t_fix = time.time()
        last = checker.latest().last_msn()
        h.wait_for(lambda: (checker.latest().last_msn() > last + 1), RECHECK + h.scaled(10),
                   what="new segments in the public playlist once the bucket is back")
        sys.stderr.write(f"live again {time.time() - t_fix:.1f} s after the bucket came back\n")
        self.assertEqual(len(sh.log_events(daemon, "store_rejected")), 1)
        h.fail_if(self, checker.update_problems(), "playlist updates")
        self._finish(daemon, checker, emu)


if __name__ == "__main__":
    h.run_tests()
