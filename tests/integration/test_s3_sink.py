#!/usr/bin/env python3
"""The S3 sink against a real S3 implementation on loopback (issue 3, S3 half): the npm
package s3rver (tests/s3, installed by `npm ci`) stores the objects; s3rver does not check
SigV4 signatures at all (its source: "Signature version 4 calculation is unimplemented"), so
every request goes through tests/s3/sigv4-proxy.js, which checks each signature, payload hash
and Content-MD5 with AWS's own signer (@smithy/signature-v4) and answers S3's errors
(403 SignatureDoesNotMatch, ...) before forwarding the good ones.

  run 1  path-style URLs (http://127.0.0.1:PORT/streams/key); a checker reads the playlist
         every 200 ms and fetches every segment it names;
  run 2  virtual-host URLs (http://streams.s3.localhost:PORT/key), same bucket: the media
         sequence continues from the stored playlist and ListObjectsV2; run 1's leftovers
         are removed with batch DeleteObjects (POST ?delete, Content-MD5);
  run 3  a wrong secret key: 403 SignatureDoesNotMatch; one ERROR, and the store is asked
         again only every recheck_s.

Proves: signed PUT, GET, ListObjectsV2 and DeleteObjects are accepted in both URL styles;
every object carries the expected Content-Type and Cache-Control; no fetch of a named segment
fails; playlists follow RFC 8216 §6.2.2 across the restart; no secret in any log.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

CAM = "cam_s3"
SEGMENT = 2
KEEP = 3
GRACE = 8.0
RECHECK = 3


class S3SinkTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("s3-sink")
        cls.s3 = sh.S3rver(cls.wd)
        cls.proxy = None
        cls.cam = h.TestCam(cls.wd, "testcam")
        cls.checker = None
        cls.wrong_secret = sh.new_key("wrongsecret")
        try:
            cls._run()
        except BaseException:
            cls.failed = True
            cls._cleanup()
            raise

    @classmethod
    def _daemon(cls, label, endpoint, style, secret, extra=None):
        backend = {"backend": "s3", "endpoint": endpoint, "bucket": "streams",
                   "url_style": style, "delete_interval_s": 1, "recheck_s": RECHECK}
        backend.update(extra or {})
        config = sh.storage_config(os.path.join(cls.wd, f"{label}.yaml"), [
            h.camera(CAM, cls.url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     delete_grace=GRACE, transcode="copy")], [backend])
        env = {"AWS_ACCESS_KEY_ID": sh.S3rver.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret}
        os.environ.update(env)
        try:
            d = h.Daemon(cls.wd, ["--config", config, "--camera", CAM, "--quiet"],
                         label=f"edgestream-{label}")
            d.start()
        finally:
            for k in env:
                del os.environ[k]
        return d

    @classmethod
    def _hold(cls, daemon, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not daemon.alive():
                raise AssertionError(f"edgestream exited with {daemon.returncode()}")
            time.sleep(0.1)

    @classmethod
    def _run(cls):
        cls.url = cls.cam.start()
        cls.s3.start()
        cls.proxy = sh.SigV4Proxy(cls.wd, cls.s3.port)
        port = cls.proxy.start()
        base = f"http://127.0.0.1:{port}/streams/location_1/{CAM}/"
        cls.checker = sh.PlaylistChecker(base + "stream.m3u8", base, interval=0.2,
                                         torn_overwrites=True)
        cls.checker.start()

        cls.d1 = cls._daemon("path", f"http://127.0.0.1:{port}", "path", sh.S3rver.SECRET_KEY)
        h.wait_for(lambda: cls.checker.latest() is not None or not cls.d1.alive(),
                   h.scaled(20), what="the first playlist in s3rver")
        cls._hold(cls.d1, 8)
        cls.rc1 = cls.d1.stop(signal.SIGTERM, timeout=h.scaled(15))
        cls.keys_after_1 = cls.s3.keys(f"location_1/{CAM}/")

        cls.d2 = cls._daemon("vhost", f"http://s3.localhost:{port}", "virtual",
                             sh.S3rver.SECRET_KEY)
        cls.d2.wait_log(r"event=store_read", h.scaled(15))
        cls._hold(cls.d2, GRACE + 5)
        cls.rc2 = cls.d2.stop(signal.SIGTERM, timeout=h.scaled(15))
        cls.proxy_after_2 = cls.proxy.stats()
        time.sleep(0.5)
        cls.checker.stop()
        cls.keys_after_2 = cls.s3.keys(f"location_1/{CAM}/")
        cls.heads = {k: cls.s3.get(k, "HEAD")[1] for k in cls.keys_after_2}

        cls.d3 = cls._daemon("wrongsecret", f"http://127.0.0.1:{port}", "path", cls.wrong_secret)
        cls.d3.wait_log(r"event=store_rejected", h.scaled(15))
        cls._hold(cls.d3, 2 * RECHECK + 1)
        cls.rc3 = cls.d3.stop(signal.SIGTERM, timeout=h.scaled(15))
        cls.proxy_after_3 = cls.proxy.stats()

    @classmethod
    def _cleanup(cls):
        if cls.checker is not None and cls.checker.is_alive():
            cls.checker.stop()
        h.kill_all_started()

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        h.remove_workdir(cls.wd, cls.failed)


    def test_runs_stopped_cleanly_and_signatures_were_accepted(self):
        self.assertEqual((self.rc1, self.rc2, self.rc3), (0, 0, 0))
        for d in (self.d1, self.d2):
            self.assertEqual(d.error_lines(), [], "s3rver accepted every signed request")
            h.fail_if(self, d.sanitizer_reports(), "sanitizer")
        retries = sh.log_events(self.d1, "segment_retrying") + \
            sh.log_events(self.d2, "segment_retrying")
        self.assertEqual(retries, [])
        sent = sum(int(sh.log_events(d, "uploader_stats")[0][3]["requests"])
                   for d in (self.d1, self.d2))
        sys.stderr.write(f"sigv4-proxy after runs 1-2: {self.proxy_after_2}; edgestream sent "
                         f"{sent} requests\n")
        self.assertEqual(self.proxy_after_2["rejected"], {})
        self.assertEqual(self.proxy_after_2["verified"], sent,
                         "every request was signed and every signature checked")

    def test_every_named_segment_fetched_with_the_expected_headers(self):
        fetches = self.checker.segment_fetches()
        self.assertGreaterEqual(len([f for f in fetches if not f.again]), 8)
        bad = [f"{f.name}: {f.status} {f.error}" for f in fetches if f.status != 200]
        h.fail_if(self, bad, "segment fetches")
        h.fail_if(self, self.checker.header_problems(), "segment headers")
        p = [f"{h.iso(t)}: {w}" for t, w in self.checker.playlist_errors]
        h.fail_if(self, p, "playlist reads")
        sys.stderr.write(f"playlist reads that raced s3rver's in-place overwrite and were "
                         f"good 0.1 s later: {self.checker.torn_reads} of "
                         f"{self.checker.polls}\n")
        for key, headers in self.heads.items():
            want = (sh.SEGMENT_TYPE, sh.SEGMENT_CACHE) if key.endswith(".ts") else \
                (sh.PLAYLIST_TYPE, sh.PLAYLIST_CACHE)
            self.assertEqual((headers.get("content-type"), headers.get("cache-control")), want,
                             key)

    def test_virtual_host_run_continues_the_sequence_and_deletes_leftovers(self):
        h.fail_if(self, self.checker.update_problems(), "playlist updates")
        msn = lambda k: int(k.rsplit("_", 1)[1].split(".")[0])  # noqa: E731
        run1 = [msn(k) for k in self.keys_after_1 if k.endswith(".ts")]
        run2_new = [m for m in (msn(k) for k in self.keys_after_2 if k.endswith(".ts"))
                    if m > max(run1)]
        self.assertTrue(run2_new, "run 2 (virtual-host style) stored segments")
        self.assertEqual(min(run2_new), max(run1) + 1)
        leftovers = [m for m in run1 if m < max(run1) - KEEP]
        remaining = {msn(k) for k in self.keys_after_2 if k.endswith(".ts")}
        self.assertTrue(leftovers)
        self.assertEqual(remaining & set(leftovers), set(),
                         "run 1's old segments were batch-deleted after the grace period")
        resume = [l for l in self.d2.all_log_lines() if "event=resume" in l]
        self.assertEqual(len(resume), 1)

    def test_wrong_secret_is_reported_once_without_a_retry_storm(self):
        rejected = sh.log_events(self.d3, "store_rejected")
        self.assertEqual(len(rejected), 1)
        self.assertEqual(rejected[0][3]["code"], "SignatureDoesNotMatch")
        self.assertIn("secret access key is wrong", rejected[0][3]["reason"])
        self.assertEqual(len(self.d3.error_lines()), 1)
        stats = sh.log_events(self.d3, "uploader_stats")
        requests = int(stats[0][3]["requests"])
        sys.stderr.write(f"wrong secret: {requests} requests over the run; the one ERROR:\n"
                         f"  {self.d3.error_lines()[0]}\n")
        self.assertLessEqual(requests, 4)
        self.assertEqual(self.proxy_after_3["rejected"].get("SignatureDoesNotMatch"), requests)

    def test_no_secret_in_any_log_or_output(self):
        self.assertEqual(sh.secrets_in_files(self.wd, [self.wrong_secret]), [])
        for d in (self.d1, self.d2, self.d3):
            for line in d.all_log_lines():
                self.assertNotIn(sh.S3rver.SECRET_KEY, line)


if __name__ == "__main__":
    h.run_tests()
