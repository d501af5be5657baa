#!/usr/bin/env python3
"""The origin's other routes and HTTP behaviour (issue 4, "What to build").

edgestream with two cameras (one `ll`, one `low`), the web player's files from a small
web root, over HTTPS (a certificate made here with openssl) with HTTP/2 negotiated by ALPN
and HTTP/1.1 still available:
  - /api/cameras follows the contract of docs/web.md (id, name, status, playlist_url,
    profile, hls settings: nothing sync-related for `ll`, the profile's counts otherwise,
    last_segment_time, latency) with Cache-Control: no-store;
  - /metrics is Prometheus text (every sample line parses, per-camera fps, bitrate,
    segments, request counters); /healthz answers;
  - Content-Type and Cache-Control per kind of response (playlist short, media immutable,
    hashed assets immutable, pages no-cache), CORS on every response and preflight,
    HEAD without a body, gzip only when asked;
  - curl speaks HTTP/2 to it and gets the same playlist as over HTTP/1.1;
  - (issue 11) parked requests are capped per connection and in all: over HTTP/2 (nghttp),
    the requests over a cap are answered 503 with Retry-After; an unfinished head over TLS
    is cut at the head cap; without `http2: true`, TLS is HTTP/1.1 only.
"""

import gzip
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402


PARKED_TOTAL = 6
PARKED_PER_CONNECTION = 4


class OriginApiTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("origin-api")
        cert, key = os.path.join(cls.wd, "cert.pem"), os.path.join(cls.wd, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        root = os.path.join(cls.wd, "www")
        os.makedirs(os.path.join(root, "assets"))
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<!doctype html><title>dashboard</title>\n")
        with open(os.path.join(root, "assets", "index-AbC123.js"), "w") as f:
            f.write("export {};\n")
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam_url = cls.cam.start()
        cls.key = key
        config = oh.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera("cam_ll", url, profile="ll"),
            dict(h.camera("cam_low", url, profile="low"), name="Floor \"Camera\""),
        ], origin={"web_root": root, "tls_cert": cert, "tls_key": key,
                   "cors": "https://shop.example", "http2": True, "max_parked": PARKED_TOTAL,
                   "max_parked_per_connection": PARKED_PER_CONNECTION})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        assert cls.base.startswith("https://")
        cls.ca = cert
        cls.curl_wait_playlist("cam_ll")
        cls.curl_wait_playlist("cam_low")

    @classmethod
    def curl(cls, path, *args, http2=True):
        cmd = ["curl", "-s", "--max-time", "15", "--cacert", cls.ca, "-D", "-",
               "--http2" if http2 else "--http1.1", *args, cls.base + path.lstrip("/")]
        out = subprocess.run(cmd, capture_output=True, timeout=30).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP") else None
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            headers[k] = f"{headers[k]}, {v.strip()}" if k in headers else v.strip()
        return status, lines[0] if lines else "", headers, body

    @classmethod
    def curl_wait_playlist(cls, cam):
        def ready():
            status, _, _, body = cls.curl(f"/live/{cam}/stream.m3u8")
            return status == 200 and body.count(b"#EXTINF") >= 2
        h.wait_for(ready, h.scaled(40), interval=0.5, what=f"{cam} playlist over HTTPS")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop() if cls.daemon else None
        cls.cam.stop()
        h.remove_workdir(cls.wd, cls.failed)


    def test_http2_over_tls_and_http1_give_the_same_playlist(self):
        s2, line2, hd2, b2 = self.curl("/live/cam_low/stream.m3u8")
        s1, line1, hd1, b1 = self.curl("/live/cam_low/stream.m3u8", http2=False)
        self.assertEqual((s1, s2), (200, 200))
        self.assertTrue(line2.startswith("HTTP/2"), line2)
        self.assertTrue(line1.startswith("HTTP/1.1"), line1)
        self.assertEqual(b1.split(b"#EXTINF")[0], b2.split(b"#EXTINF")[0])

    def test_api_cameras_follows_the_dashboard_contract(self):
        status, _, headers, body = self.curl("/api/cameras")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(headers.get("cache-control"), "no-store")
        cams = {c["id"]: c for c in json.loads(body)["cameras"]}
        self.assertEqual(set(cams), {"cam_ll", "cam_low"})
        ll, low = cams["cam_ll"], cams["cam_low"]
        self.assertEqual(low["name"], 'Floor "Camera"')
        for c in (ll, low):
            self.assertIn(c["status"], ("live", "offline", "connecting"))
            self.assertEqual(c["playlist_url"], f"/live/{c['id']}/stream.m3u8")
            self.assertRegex(c["last_segment_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertTrue(all(isinstance(v, (int, float)) for v in c["latency"].values()))
        self.assertEqual(low["status"], "live")
        self.assertEqual(ll["profile"], "ll")
        self.assertTrue(ll["hls"]["lowLatencyMode"])
        # docs/web.md: for `ll` nothing sync-related (null removes the profile's setting).
        self.assertIsNone(ll["hls"]["liveSyncDurationCount"])
        self.assertIsNone(ll["hls"]["liveMaxLatencyDurationCount"])
        self.assertEqual(low["profile"], "low")
        self.assertEqual(low["hls"], {"liveSyncDurationCount": 2, "liveMaxLatencyDurationCount": 4})
        # The ll profile: the whole frames within 0.134 s, two at 15 fps.
        self.assertAlmostEqual(ll["part_target"], 2 / 15, delta=0.0001)

    def test_metrics_are_prometheus_text(self):
        status, _, headers, body = self.curl("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\""
                            r"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\})? -?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$")
        names = set()
        typed = None  # the family of the last TYPE line
        for line in body.decode().splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) ")
                if line.startswith("# TYPE "):
                    typed = line.split()[2]
                continue
            self.assertRegex(line, sample)
            name = line.split("{")[0].split(" ")[0]
            # Exposition format: a family's samples form one group, under its TYPE line.
            self.assertEqual(name, typed, f"{line!r} is not under its own TYPE line")
            names.add(name)
        self.assertRegex(body.decode(), r'edgestream_camera_up\{camera="cam_ll"\} [01]\n'
                                        r'edgestream_camera_up\{camera="cam_low"\} [01]\n')
        # No remote storage here: the upload families have no samples.
        self.assertNotIn("edgestream_upload_segments_total", names)
        for want in ("edgestream_camera_fps", "edgestream_camera_bitrate_bps",
                     "edgestream_camera_segments_total", "edgestream_origin_parts_total",
                     "edgestream_http_responses_total", "edgestream_http_connections"):
            self.assertIn(want, names)
        self.assertRegex(body.decode(), r'edgestream_origin_parts_total\{camera="cam_ll"\} [1-9]')
        self.assertRegex(body.decode(), r'edgestream_origin_requests_total\{camera="cam_ll"\} [1-9]')
        status, _, _, body = self.curl("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["cameras"], 2)

    def test_types_caching_cors_head_and_gzip(self):
        origin = "https://shop.example"
        s, _, hd, body = self.curl("/live/cam_ll/stream.m3u8")
        self.assertEqual(hd["content-type"], "application/vnd.apple.mpegurl")
        self.assertEqual(hd["cache-control"], "no-cache")
        self.assertEqual(hd["access-control-allow-origin"], origin)
        self.assertIn("Origin", hd.get("vary", ""))
        self.assertIn("Accept-Encoding", hd.get("vary", ""))
        text = body.decode()
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
        part = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)[-1]
        seg = [l for l in text.splitlines() if l and not l.startswith("#")][-1]
        # Every media URI sits in this run's directory: <run>/<name> (names never repeat
        # across runs, DESIGN invariant 2).
        run = init.split("/")[0]
        self.assertRegex(run, r"^[0-9a-f]{16,24}$")
        for name, pattern in ((init, r"init_\d+\.mp4"), (part, r"part_\d+_\d+\.m4s"),
                              (seg, r"seg_\d+\.m4s")):
            self.assertRegex(name, rf"^{run}/{pattern}$")
        for name in (init, part, seg):
            s, _, hd, _ = self.curl(f"/live/cam_ll/{name}")
            self.assertEqual(s, 200, name)
            self.assertEqual(hd["content-type"], "video/mp4", name)
            self.assertEqual(hd["cache-control"], "public, max-age=31536000, immutable", name)
        s, _, hd, _ = self.curl(f"/live/cam_ll/{part}")
        self.assertRegex(hd["x-edgestream-published-us"], r"^\d{16}$")
        body = self.curl("/live/cam_low/stream.m3u8")[3]
        ts = [l for l in body.decode().splitlines() if l.endswith(".ts")][-1]
        s, _, hd, _ = self.curl(f"/live/cam_low/{ts}")
        self.assertEqual((s, hd["content-type"]), (200, "video/mp2t"))
        s, _, hd, _ = self.curl("/")
        self.assertEqual((s, hd["content-type"], hd["cache-control"]),
                         (200, "text/html; charset=utf-8", "no-cache"))
        s, _, hd, _ = self.curl("/assets/index-AbC123.js")
        self.assertEqual(hd["cache-control"], "public, max-age=31536000, immutable")
        # Preflight.
        s, _, hd, _ = self.curl("/live/cam_ll/stream.m3u8", "-X", "OPTIONS", "-H",
                                f"Origin: {origin}", "-H",
                                "Access-Control-Request-Headers: authorization")
        self.assertEqual(s, 204)
        self.assertIn("GET", hd["access-control-allow-methods"])
        self.assertIn("Authorization", hd["access-control-allow-headers"])
        # HEAD: the headers of GET, no body.
        m = re.match(r"https://([^/:]+):(\d+)/", self.base)
        conn = http.client.HTTPSConnection(m.group(1), int(m.group(2)), timeout=10,
                                           context=ssl.create_default_context(cafile=self.ca))
        conn.request("HEAD", "/live/cam_low/stream.m3u8")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.getheader("content-length")), 100)
        self.assertEqual(r.read(), b"")
        conn.close()
        # gzip when asked, identity otherwise.
        s, _, hd, body = self.curl("/live/cam_low/stream.m3u8", "-H", "Accept-Encoding: gzip",
                                   http2=False)
        self.assertEqual(hd.get("content-encoding"), "gzip")
        self.assertTrue(gzip.decompress(body).startswith(b"#EXTM3U"))
        s, _, hd, body = self.curl("/live/cam_low/stream.m3u8", http2=False)
        self.assertNotIn("content-encoding", hd)
        self.assertTrue(body.startswith(b"#EXTM3U"))

    def test_oversized_heads_over_tls_are_cut_at_the_head_cap(self):
        # Issue 11 item 4: an unfinished request head is cut at the head cap (32 KiB), over
        # TLS as over plaintext, long before h2o's own ~400 KiB or the idle timeout (10 s).
        import socket
        import time
        self.curl("/healthz", http2=False)          # an HTTP/1.1 request first, as any
        m = re.match(r"https://([^/:]+):(\d+)/", self.base)
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.set_alpn_protocols(["http/1.1"])
        results = []
        for _ in range(3):
            raw = socket.create_connection((m.group(1), int(m.group(2))), timeout=5)
            s = ctx.wrap_socket(raw, server_hostname=m.group(1))
            t0, outcome = time.monotonic(), None
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                for _ in range(64):                     # up to 512 KiB, never finished
                    s.sendall(b"a" * 8192)
                s.settimeout(8)
                outcome = s.recv(100) or "closed"
            except (OSError, ssl.SSLError) as e:
                outcome = type(e).__name__
            finally:
                s.close()
            results.append((outcome, round(time.monotonic() - t0, 2)))
        sys.stderr.write(f"oversized heads over TLS: {results}\n")
        for outcome, took in results:
            self.assertNotIsInstance(outcome, bytes, "the oversized head was answered")
            self.assertLess(took, 5.0, "held until the idle timeout")
        status, _, _, body = self.curl("/metrics")
        self.assertRegex(body.decode(), r"edgestream_http_heads_refused_total [1-9]")

    def test_parked_requests_are_capped_per_connection_and_in_all(self):
        # Issue 11 item 4, over HTTP/2 (the only protocol that parks several requests on
        # one connection): two connections of 5 blocking reloads each, for a part about
        # a segment ahead. At most 4 wait per connection and 6 in all; the rest are
        # answered 503 with Retry-After at once.
        h.require_tool("h2load")            # nghttp2-client, which also has nghttp
        nghttp = shutil.which("nghttp")
        _, _, _, body = self.curl("/live/cam_ll/stream.m3u8")
        newest = max(oh.parse_ll(body.decode())["segments"])
        procs = []
        for c in range(2):
            uris = [f"{self.base}live/cam_ll/stream.m3u8?_HLS_msn={newest + 2}&_HLS_part=0&c={c}"
                    f"&n={i}" for i in range(5)]
            procs.append(subprocess.Popen([nghttp, "-v", "-t", str(int(h.scaled(15))), *uris],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          text=True))
        outs = [p.communicate(timeout=h.scaled(30))[0] for p in procs]
        statuses = [re.findall(r":status: (\d{3})", out) for out in outs]
        sys.stderr.write(f"parked caps: statuses per connection {statuses}\n")
        for out, st in zip(outs, statuses):
            self.assertEqual(len(st), 5, out[-800:])
            self.assertTrue(set(st) <= {"200", "503"}, st)
            self.assertLessEqual(st.count("200"), PARKED_PER_CONNECTION, st)
            if "503" in st:
                self.assertIn("retry-after: 1", out)
        self.assertGreaterEqual(sum(st.count("503") for st in statuses), 10 - PARKED_TOTAL)
        status, _, _, body = self.curl("/metrics")
        self.assertRegex(body.decode(), r"edgestream_http_parked_refused_total [1-9]")

    def test_http2_is_off_over_tls_by_default(self):
        # origin.http2 defaults to false (libh2o 2.2.5 and HTTP/2 Rapid Reset): ALPN offers
        # only http/1.1, so even a client that asks for HTTP/2 gets HTTP/1.1.
        wd = os.path.join(self.wd, "http1-only")
        os.makedirs(wd, exist_ok=True)
        config = oh.write_config(os.path.join(wd, "cameras.yaml"),
                                 [h.camera("cam_ll", self.cam_url, profile="ll")],
                                 origin={"tls_cert": self.ca, "tls_key": self.key})
        daemon, base = oh.start_daemon(wd, config, label="edgestream-http1")
        try:
            out = subprocess.run(["curl", "-s", "-v", "--max-time", "15", "--cacert", self.ca,
                                  "--http2", "-o", "/dev/null", base + "healthz"],
                                 capture_output=True, text=True, timeout=30)
            self.assertIn("ALPN: server accepted http/1.1", out.stderr, out.stderr[-800:])
            self.assertRegex(out.stderr, r"< HTTP/1\.1 200")
            self.assertNotIn("HTTP/2", out.stderr.split("ALPN")[-1])
            self.assertRegex(daemon.log_text(), r"event=listening .*tls=yes http2=no")
        finally:
            self.assertEqual(daemon.stop(), 0)
            h.fail_if(self, daemon.sanitizer_reports(), "sanitizer reports")

    def test_zz_clean_stop(self):
        self.assertEqual(self.daemon.stop(), 0)
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer reports")
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines")


if __name__ == "__main__":
    h.require_tool("curl")
    h.require_tool("openssl")
    h.run_tests()
