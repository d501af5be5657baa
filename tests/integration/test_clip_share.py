"""Sharing a clip (docs/recording.md, "Sharing a clip"), against the real daemon, the test
camera and the Supabase emulator (tests/tools/supabase_emulator.py): a passed-through
camera with 1 s segments is recorded and streamed to the emulator's bucket; then
POST /vod/<camera>/clip.mp4 of a 10 s range.

- While the bucket's allowed_mime_types holds only the stream's two types (what
  docs/storage.md told shops to set), the POST answers 502 naming InvalidMimeType and
  video/mp4, without the key; the live stream goes on.
- With video/mp4 allowed, it answers 201 with JSON: the object is under
  <location>/<camera>/clips/, its public URL serves video/mp4 with the same bytes as a GET
  of clip.mp4 for the range, and ffprobe finds a clip within one segment of 10 s that
  starts with a keyframe. /metrics counts the share.
- A POST from another site's page (Origin) is 403; POST anywhere else is 405.
- The command line, beside the running daemon: `edgestream --camera cam1 --clip START/END
  --output F` writes the same bytes; with --upload it stores them under the same name and
  prints the same URL, in Supabase and (another config) in S3: s3rver behind the proxy that
  checks the SigV4 signature; a malformed range exits 2, a range with nothing recorded
  exits 1.
- The key is in no log or output."""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import record_harness as rh  # noqa: E402
import storage_harness as sh  # noqa: E402

CAM = "cam1"
SEGMENT = 1.0
RANGE = 10.0


class ClipShare(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        h.require_tool("ffprobe")
        cls.wd = h.new_workdir("clip-share")
        cls.key = sh.new_key()
        cls.emu = sh.Emulator(cls.wd, cls.key)
        cls.emu.start()
        cls.cam = h.TestCam(cls.wd, extra_args=["--gop", "25"])
        url = cls.cam.start()
        cls.root = os.path.join(cls.wd, "recordings")
        cls.cam_dir = os.path.join(cls.root, CAM)
        config = os.path.join(cls.wd, "cameras.yaml")
        lines = ["storage:",
                 "  - backend: supabase",
                 f"    url: {cls.emu.url}",
                 f"record_root: {cls.root}",
                 "origin:",
                 "  listen: 127.0.0.1:0",
                 "  webrtc:",
                 "    enabled: false",
                 "cameras:"]
        lines += h._camera_yaml(h.camera(CAM, url, transcode="copy", segment_duration=SEGMENT,
                                         record=True, record_min_free_gb=0), 2)
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.environ["SUPABASE_KEY"] = cls.key
        try:
            cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        finally:
            del os.environ["SUPABASE_KEY"]
        h.wait_for(lambda: len(rh.files_on_disk(cls.cam_dir)) >= RANGE + 4, h.scaled(60),
                   interval=0.5, what=f"{RANGE + 4:.0f} recorded segments")
        names = sorted(rh.files_on_disk(cls.cam_dir), key=lambda n: rh.parse_name(n)[2])
        cls.start = rh.parse_name(names[2])[0] + 0.4
        cls.end = cls.start + RANGE
        cls.origin = cls.base.rstrip("/")

        cls.refused = cls.post(cls.clip_url())
        cls.segments_before = cls.stream_segments()
        cls.emu.create_bucket("streams", allowed_mime=(sh.SEGMENT_TYPE, sh.PLAYLIST_TYPE,
                                                       "video/mp4"))
        cls.shared = cls.post(cls.clip_url(), headers={"Origin": cls.origin})
        cls.cross_site = cls.post(cls.clip_url(), headers={"Origin": "https://example.com"})
        cls.downloaded = oh.request(cls.clip_url(), timeout=h.scaled(60))
        cls.metrics = oh.request(f"{cls.base}metrics")[2].decode()
        cls.config = config

        # S3 for the command line's --upload: s3rver behind the proxy that checks every
        # SigV4 signature with AWS's own signer.
        cls.s3 = sh.S3rver(cls.wd)
        cls.s3.start()
        cls.proxy = sh.SigV4Proxy(cls.wd, cls.s3.port)
        cls.s3_endpoint = f"http://127.0.0.1:{cls.proxy.start()}"
        cls.s3_config = os.path.join(cls.wd, "s3.yaml")
        with open(cls.s3_config, "w") as f:
            f.write("\n".join(["storage:", "  - backend: s3", f"    endpoint: {cls.s3_endpoint}",
                               "    bucket: streams", "    url_style: path"]
                              + lines[3:]) + "\n")

    @classmethod
    def tearDownClass(cls):
        for p in (getattr(cls, "proxy", None), getattr(cls, "s3", None)):
            if p:
                p.stop()
        super().tearDownClass()

    @classmethod
    def clip_url(cls, name="clip.mp4"):
        q = {"start": rh.iso_z(cls.start), "end": rh.iso_z(cls.end)}
        return f"{cls.base}vod/{CAM}/{name}?" + urllib.parse.urlencode(q)

    @classmethod
    def post(cls, url, headers=None):
        return oh.request(url, headers=headers, method="POST", timeout=h.scaled(60))

    @classmethod
    def stream_segments(cls):
        return {o["name"] for o in cls.emu.objects()
                if o["name"].startswith(f"location_1/{CAM}/segment_")}

    def test_refused_type_is_a_502_that_says_what_to_allow(self):
        status, _, body = self.refused
        text = body.decode()
        print(f"bucket without video/mp4: {status} {text.strip()}")
        self.assertEqual(status, 502, text)
        self.assertIn("InvalidMimeType", text)
        self.assertIn("video/mp4", text)
        self.assertNotIn(self.key, text)

    def test_the_live_stream_went_on(self):
        h.wait_for(lambda: len(self.stream_segments() - self.segments_before) >= 2,
                   h.scaled(15), what="two more live segments in the bucket")

    def test_shared_clip_is_in_the_bucket_and_matches_the_download(self):
        status, headers, body = self.shared
        self.assertEqual(status, 201, body[:300])
        self.assertEqual(headers.get("content-type"), "application/json")
        answer = json.loads(body)
        print(f"shared: {answer}")
        self.assertRegex(answer["name"],
                         rf"^location_1/{CAM}/clips/{CAM}_\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d"
                         rf"\.\d{{3}}Z_\d+s\.mp4$")
        self.assertEqual(answer["url"], self.emu.public_url(answer["name"]))
        self.assertEqual(answer["camera"], CAM)
        self.assertLessEqual(abs(answer["duration_s"] - RANGE), SEGMENT)

        got_status, got_headers, got = oh.request(answer["url"], timeout=h.scaled(30))
        self.assertEqual(got_status, 200)
        self.assertEqual(got_headers.get("content-type"), "video/mp4")
        self.assertEqual(len(got), answer["bytes"])
        d_status, _, downloaded = self.downloaded
        self.assertEqual(d_status, 200)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(downloaded).hexdigest(),
                         "the stored clip is the one GET clip.mp4 builds")

        path = os.path.join(self.wd, "shared.mp4")
        with open(path, "wb") as f:
            f.write(got)
        out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format",
                              "-select_streams", "v:0", "-show_packets", "-read_intervals",
                              "%+#1", path], capture_output=True, text=True, check=True,
                             timeout=60).stdout
        probe = json.loads(out)
        self.assertLessEqual(abs(float(probe["format"]["duration"]) - RANGE), SEGMENT)
        self.assertIn("K", probe["packets"][0]["flags"])

    def test_metrics_count_the_share(self):
        m = re.search(r"^edgestream_clip_shares_total (\d+)$", self.metrics, re.M)
        self.assertIsNotNone(m, "edgestream_clip_shares_total in /metrics")
        self.assertEqual(int(m.group(1)), 1)

    def test_other_sites_and_other_paths_cannot_post(self):
        status, _, body = self.cross_site
        self.assertEqual(status, 403, body)
        for url in (self.clip_url("snapshot.jpg"), f"{self.base}live/{CAM}/stream.m3u8",
                    f"{self.base}api/cameras", f"{self.base}vod/{CAM}/clip.mp4/"):
            with self.subTest(url=url):
                status, headers, body = self.post(url)
                self.assertEqual(status, 405, body)
                self.assertEqual(headers.get("allow"), "GET, HEAD, OPTIONS")

    def clip_command(self, *args, config=None):
        env = dict(os.environ, SUPABASE_KEY=self.key,  # the config needs it to load
                   AWS_ACCESS_KEY_ID=sh.S3rver.ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=sh.S3rver.SECRET_KEY)
        r = subprocess.run([h.edgestream_binary(), "--config", config or self.config,
                            "--camera", CAM, *args], capture_output=True, text=True, env=env,
                           timeout=h.scaled(120))
        with open(os.path.join(self.wd, "clip-command.log"), "a") as f:
            f.write(f"$ {args}\nrc={r.returncode}\n{r.stdout}{r.stderr}\n")
        return r

    def test_command_line_writes_and_uploads_the_same_clip(self):
        span = f"{rh.iso_z(self.start)}/{rh.iso_z(self.end)}"
        out = os.path.join(self.wd, "cli.mp4")
        r = self.clip_command("--clip", span, "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), out)
        self.assertFalse(os.path.exists(out + ".part"))
        with open(out, "rb") as f:
            written = f.read()
        self.assertEqual(written, self.downloaded[2], "the same clip as GET clip.mp4")

        r = self.clip_command("--clip", span, "--output", out + ".2.mp4", "--upload")
        self.assertEqual(r.returncode, 0, r.stderr)
        shared = json.loads(self.shared[2])
        self.assertEqual(r.stdout.strip(), shared["url"])
        status, _, stored = oh.request(shared["url"], timeout=h.scaled(30))
        self.assertEqual(status, 200)
        self.assertEqual(stored, written)

    def test_command_line_uploads_to_s3_signed(self):
        span = f"{rh.iso_z(self.start)}/{rh.iso_z(self.end)}"
        before = self.proxy.stats()
        r = self.clip_command("--clip", span, "--output", os.path.join(self.wd, "s3.mp4"),
                              "--upload", config=self.s3_config)
        self.assertEqual(r.returncode, 0, r.stderr)
        name = json.loads(self.shared[2])["name"]
        self.assertEqual(r.stdout.strip(), f"{self.s3_endpoint}/streams/{name}")
        after = self.proxy.stats()
        print(f"sigv4-proxy before/after the upload: {before} / {after}")
        self.assertEqual(after["rejected"], {})
        self.assertEqual(after["verified"] - before["verified"], 1)
        status, headers, body = self.s3.get(name)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "video/mp4")
        self.assertEqual(body, self.downloaded[2])

    def test_command_line_errors(self):
        r = self.clip_command("--clip", "yesterday")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("START/END", r.stderr)
        old = time.time() - 3 * 86400
        r = self.clip_command("--clip", f"{rh.iso_z(old)}/{rh.iso_z(old + 20)}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("nothing recorded", r.stderr)
        r = self.clip_command("--upload")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_no_key_in_any_log_or_output(self):
        self.assertEqual(sh.secrets_in_files(self.wd, [self.key]), [])


if __name__ == "__main__":
    import unittest
    unittest.main()
