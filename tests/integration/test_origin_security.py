#!/usr/bin/env python3
"""Hostile requests against the origin (issue 4, "What it must show" item 4).

edgestream serves one LL camera with a bearer token, a small connection limit, a 2 s idle
timeout, and a web root that sits next to a secret file (also reachable, for a careless
server, through a symlink inside the root). Every request below must get the right 4xx or
be dropped, nothing outside the root may ever be served, and the daemon must stay healthy:
  - path traversal: .., %2e%2e, double encoding, overlong UTF-8, backslashes, NUL,
    absolute-form targets, symlinks;
  - unknown cameras and file names;
  - huge and malformed _HLS_msn / _HLS_part / _HLS_skip;
  - oversized request lines and headers, request bodies, unknown methods, garbage;
  - slow clients: headers trickled byte by byte (cut at the idle timeout), a reader that
    never reads (cut once its response deadline passes), more connections than allowed;
  - a missing or wrong token (401), the token in the query (and then in the playlist's
    URIs), public static files, and the token never in a log line;
  - (issue 11) a slow reader that keeps reading is never cut (progress deadline), media
    and blocking playlists are `private` with a token, a foreign Host is 421 (DNS
    rebinding) and a foreign Origin gets no CORS header.
Run under AddressSanitizer too (make test-asan): any sanitizer report fails it.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402

TOKEN = "tok-3f9a2c7e51d04b88"
SECRET = b"SECRET-d41d8cd98f00b204e9800998ecf8427e"
MAX_CONNECTIONS = 40
IDLE_MS = 2000


class OriginSecurityTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("origin-security")
        with open(os.path.join(cls.wd, "secret.txt"), "wb") as f:
            f.write(SECRET + b"\n")
        root = os.path.join(cls.wd, "www")
        os.makedirs(os.path.join(root, "assets"))
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<!doctype html><title>player</title>\n")
        with open(os.path.join(root, "assets", "app.js"), "w") as f:
            f.write("console.log('app');\n")
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(1 << 20) * 24)   # bigger than any socket buffer
        os.symlink(os.path.join(cls.wd, "secret.txt"), os.path.join(root, "link.txt"))
        os.symlink(cls.wd, os.path.join(root, "up"))
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        config = oh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam_ll", url, profile="ll")],
                                 origin={"token": TOKEN, "web_root": root,
                                         "max_connections": MAX_CONNECTIONS,
                                         "idle_timeout_ms": IDLE_MS})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        oh.wait_playlist(cls.base, "cam_ll", parts=True, token=TOKEN)
        cls.auth = {"Authorization": f"Bearer {TOKEN}"}


    def get(self, path, auth=True, **kw):
        headers = dict(self.auth) if auth else {}
        headers.update(kw.pop("headers", {}))
        return oh.request(self.base + path.lstrip("/"), headers=headers, **kw)

    def raw(self, target, extra=b"", method=b"GET", auth=True):
        head = method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if auth:
            head += f"Authorization: Bearer {TOKEN}\r\n".encode()
        return oh.raw_request(self.base, head + extra + b"Connection: close\r\n\r\n")

    def healthy(self):
        status, _, body = self.get("/healthz", auth=False)
        self.assertEqual(status, 200, body)
        self.assertTrue(self.daemon.alive())

    def test_path_traversal_never_leaves_the_web_root(self):
        targets = [
            b"/../secret.txt", b"/../../../../etc/passwd", b"/assets/../../secret.txt",
            b"/%2e%2e/secret.txt", b"/%2E%2E/%2E%2E/etc/passwd", b"/.%2e/secret.txt",
            b"/%252e%252e/secret.txt", b"/%25252e%25252e/secret.txt",
            b"/%c0%ae%c0%ae/secret.txt", b"/%e0%80%ae%e0%80%ae/secret.txt",
            b"/..%2fsecret.txt", b"/..%5csecret.txt", b"/..\\secret.txt", b"/assets\\..\\..\\secret.txt",
            b"/index.html%00../secret.txt", b"/%00/secret.txt", b"/secret.txt%00.html",
            b"//secret.txt", b"/./secret.txt", b"/assets/./app.js",
            b"http://127.0.0.1/../secret.txt", b"../secret.txt", b"secret.txt", b"*",
            b"/live/cam_ll/../../secret.txt", b"/live/cam_ll/%2e%2e%2f%2e%2e%2fsecret.txt",
            b"/live/..%2f..%2fsecret.txt/stream.m3u8", b"/live/%2e%2e/stream.m3u8",
            b"/link.txt", b"/up/secret.txt", b"/up/www/index.html",
            b"/" + str(os.path.join(self.wd, "secret.txt")).encode(),
            b"/.." * 200 + b"/secret.txt",
        ]
        answers = {}
        for t in targets:
            status, raw = self.raw(t)
            answers[t] = status
            self.assertNotIn(SECRET, raw, f"{t!r} served the secret")
            self.assertNotIn(b"root:", raw, f"{t!r} served /etc/passwd")
            self.assertIn(status, (400, 404, 414), f"{t!r} -> {status}: {raw[:200]!r}")
        sys.stderr.write("traversal: " + ", ".join(f"{k.decode(errors='replace')[:40]} {v}"
                                                   for k, v in list(answers.items())[:12]) + " ...\n")
        # What is inside is served, normally.
        self.assertEqual(self.get("/", auth=False)[0], 200)
        self.assertEqual(self.get("/assets/app.js", auth=False)[0], 200)
        self.healthy()

    def test_unknown_cameras_and_names_are_404(self):
        for path in ["/live/nope/stream.m3u8", "/live/cam_LL/stream.m3u8",
                     "/live/cam_ll/segment_000.ts", "/live/cam_ll/part_999999_0.m4s",
                     "/live/cam_ll/part_01_0.m4s", "/live/cam_ll/seg_99999999.m4s",
                     "/live/cam_ll/init_0_1.mp4", "/live/cam_ll/stream.m3u", "/live/cam_ll",
                     "/live/cam_ll/", "/live/", "/live/" + "a" * 80 + "/stream.m3u8",
                     "/live/cam_ll/stream.m3u8/x", "/api/nope", "/nothing.html"]:
            status, _, _ = self.get(path)
            self.assertEqual(status, 404, path)
        self.healthy()

    def test_huge_and_malformed_hls_directives_are_400(self):
        bad = ["_HLS_msn=-1", "_HLS_msn=abc", "_HLS_msn=1e3", "_HLS_msn=0x10", "_HLS_msn=",
               "_HLS_msn=18446744073709551616", "_HLS_msn=" + "9" * 400,
               "_HLS_msn=18446744073709551615", "_HLS_msn=99999999&_HLS_part=0",
               "_HLS_part=0", "_HLS_part=4294967296&_HLS_msn=1", "_HLS_msn=1&_HLS_msn=2",
               "_HLS_skip=NO", "_HLS_skip=yes", "_HLS_msn=1%00", "_HLS_msn=%zz"]
        t0 = time.monotonic()
        for q in bad:
            status, _, body = self.get(f"/live/cam_ll/stream.m3u8?{q}", timeout=5)
            self.assertEqual(status, 400, f"{q}: {status} {body[:80]!r}")
        # Answered at once, never held.
        self.assertLess(time.monotonic() - t0, h.scaled(3))
        # _HLS_part far beyond the Advance Part Limit of the newest segment.
        _, _, body = self.get("/live/cam_ll/stream.m3u8")
        info = oh.parse_ll(body.decode())
        newest = max(info["segments"])
        status, _, _ = self.get(f"/live/cam_ll/stream.m3u8?_HLS_msn={newest}&_HLS_part=4294967295")
        self.assertEqual(status, 400)
        self.healthy()

    def test_oversized_requests_are_refused(self):
        status, raw = self.raw(b"/" + b"a" * 5000)
        self.assertEqual(status, 414, raw[:100])
        status, raw = self.raw(b"/healthz", extra=b"X-Big: " + b"b" * 20000 + b"\r\n")
        self.assertEqual(status, 431, raw[:100])
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(90))
        status, raw = self.raw(b"/healthz", extra=many)
        self.assertEqual(status, 431, raw[:100])
        # Beyond what h2o buffers at all: refused or dropped, never crashing anything.
        status, raw = self.raw(b"/healthz", extra=b"X-Huge: " + b"c" * 600000 + b"\r\n")
        self.assertIn(status, (None, 400, 413, 431), raw[:100])
        # Bodies and methods.
        body = b"x" * 4096
        status, raw = oh.raw_request(self.base, b"POST /live/cam_ll/stream.m3u8 HTTP/1.1\r\n"
                                     b"Host: 127.0.0.1\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n"
                                     + body)
        self.assertIn(status, (405, 413), raw[:100])
        for method in (b"PUT", b"DELETE", b"PATCH", b"TRACE", b"CONNECT"):
            status, raw = self.raw(b"/live/cam_ll/stream.m3u8", method=method)
            self.assertIn(status, (400, 405), f"{method!r}: {raw[:100]!r}")
        status, raw = oh.raw_request(self.base, b"GARBAGE\r\n\r\n")
        self.assertIn(status, (None, 400), raw[:100])
        status, raw = oh.raw_request(self.base, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
                                     os.urandom(300))
        self.assertIn(status, (None, 400), raw[:100])
        self.healthy()

    def test_tokens_are_required_and_never_logged(self):
        for path in ["/live/cam_ll/stream.m3u8", "/api/cameras", "/metrics"]:
            status, headers, _ = self.get(path, auth=False)
            self.assertEqual(status, 401, path)
            self.assertIn("bearer", headers.get("www-authenticate", "").lower())
            status, _, _ = self.get(path, auth=False,
                                    headers={"Authorization": "Bearer wrong-token-000000"})
            self.assertEqual(status, 401, path)
            status, _, _ = self.get(path, auth=False,
                                    headers={"Authorization": f"Basic {TOKEN}"})
            self.assertEqual(status, 401, path)
            status, _, _ = self.get(path + "?token=" + TOKEN[:-1], auth=False)
            self.assertEqual(status, 401, path)
            self.assertEqual(self.get(path)[0], 200, path)
        # Players that cannot set headers: ?token=, carried into every URI they will fetch.
        status, _, body = self.get(f"/live/cam_ll/stream.m3u8?token={TOKEN}", auth=False)
        self.assertEqual(status, 200)
        text = body.decode()
        uris = re.findall(r'URI="([^"]+)"', text) + [l for l in text.splitlines()
                                                     if l and not l.startswith("#")]
        self.assertTrue(uris)
        for u in uris:
            self.assertTrue(u.endswith(f"?token={TOKEN}"), u)
        part = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)[-1]
        self.assertEqual(self.get(f"/live/cam_ll/{part}", auth=False)[0], 200)
        # Static files and /healthz need no token.
        self.assertEqual(self.get("/index.html", auth=False)[0], 200)
        self.assertEqual(self.get("/healthz", auth=False)[0], 200)
        logs = "\n".join(self.daemon.all_log_lines())
        self.assertNotIn(TOKEN, logs)
        self.assertNotIn(TOKEN[4:], logs)

    def test_slow_clients_are_cut_and_others_are_served(self):
        # Headers trickled a byte at a time: cut at the idle timeout, whatever arrives.
        trickle = []
        for _ in range(5):
            s = socket.create_connection(re.match(r"http://([^/:]+):(\d+)/", self.base).groups())
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            trickle.append(s)
        t0 = time.monotonic()
        cut_after = []
        while trickle and time.monotonic() - t0 < h.scaled(10):
            for s in list(trickle):
                try:
                    s.send(b"X")
                    s.settimeout(0.05)
                    if s.recv(100) == b"":
                        raise ConnectionResetError
                except socket.timeout:
                    continue
                except OSError:
                    cut_after.append(time.monotonic() - t0)
                    trickle.remove(s)
                    s.close()
            # Meanwhile everyone else is answered at once.
            status, _, _ = self.get("/healthz", auth=False, timeout=2)
            self.assertEqual(status, 200)
            time.sleep(0.2)
        for s in trickle:
            s.close()
        self.assertEqual(len(cut_after), 5, "trickling clients were never cut")
        self.assertLess(max(cut_after), IDLE_MS / 1000 * h.SCALE + 2)
        sys.stderr.write(f"slowloris: cut after {min(cut_after):.1f}-{max(cut_after):.1f} s "
                         f"(idle_timeout_ms {IDLE_MS})\n")
        # A reader that never reads a 24 MB response: the connection is cut once the
        # response's deadline passes; the server does not wait for it.
        host, port = re.match(r"http://([^/:]+):(\d+)/", self.base).groups()
        stuck = []
        for _ in range(3):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect((host, int(port)))
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stuck.append(s)
        time.sleep(0.5)
        t0 = time.monotonic()
        self.assertEqual(self.get("/live/cam_ll/stream.m3u8", timeout=2)[0], 200)
        self.assertLess(time.monotonic() - t0, 1.0)

        def cut():
            _, _, body = self.get("/metrics")
            m = re.search(rb"edgestream_http_send_timeouts_total (\d+)", body)
            return int(m.group(1)) >= 3
        h.wait_for(cut, IDLE_MS / 1000 * h.SCALE + h.scaled(5), interval=0.2,
                   what="the stalled readers to be cut")
        for s in stuck:
            s.close()
        self.healthy()

    def test_a_slow_reader_that_keeps_reading_is_never_cut(self):
        # Issue 11 item 5: the send deadline is a progress deadline. A reader that takes
        # 24 MB over about three idle timeouts, but never stops for one, gets all of it.
        host, port = re.match(r"http://([^/:]+):(\d+)/", self.base).groups()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect((host, int(port)))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        want = 24 << 20
        pace = want / (3 * IDLE_MS / 1000)          # bytes per second
        got, t0 = 0, time.monotonic()
        s.settimeout(5)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += len(chunk)
            ahead = got / pace - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(min(ahead, 0.2))
        took = time.monotonic() - t0
        s.close()
        sys.stderr.write(f"slow reader: {got} bytes in {took:.1f} s (idle_timeout_ms {IDLE_MS})\n")
        self.assertGreaterEqual(got, want, "a reader that kept reading was cut")
        self.assertGreater(took, 2 * IDLE_MS / 1000, "the reader was not slow enough to prove it")

    def test_authenticated_media_is_private(self):
        # Issue 11 item 8: with a token, no shared cache may keep media or blocking playlists.
        _, _, body = self.get("/live/cam_ll/stream.m3u8")
        text = body.decode()
        info = oh.parse_ll(text)
        newest = max(info["segments"])
        part = re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)[-1]
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
        for name in (part, init):
            status, headers, _ = self.get(f"/live/cam_ll/{name}")
            self.assertEqual(status, 200, name)
            self.assertEqual(headers["cache-control"], "private, max-age=31536000, immutable")
        status, headers, _ = self.get(f"/live/cam_ll/stream.m3u8?_HLS_msn={newest}&_HLS_part=0")
        self.assertEqual(status, 200)
        self.assertTrue(headers["cache-control"].startswith("private, max-age="),
                        headers["cache-control"])

    def test_foreign_hosts_and_origins_get_nothing(self):
        # Issue 11 item 9: bound to loopback, a Host that is not a loopback name is refused
        # (DNS rebinding), and no page elsewhere may read anything (no CORS by default).
        for host in (b"evil.example", b"evil.example:80", b"127.0.0.1.nip.io", b"localhost.evil",
                     b"[::2]:1"):
            status, raw = oh.raw_request(self.base, b"GET /api/cameras HTTP/1.1\r\nHost: " + host +
                                         f"\r\nAuthorization: Bearer {TOKEN}\r\n".encode() +
                                         b"Connection: close\r\n\r\n")
            self.assertEqual(status, 421, f"{host!r}: {raw[:120]!r}")
            self.assertNotIn(b"cam_ll", raw)
        port = re.match(r"http://[^/:]+:(\d+)/", self.base).group(1).encode()
        for host in (b"127.0.0.1", b"127.0.0.1:" + port, b"localhost:" + port, b"LOCALHOST",
                     b"[::1]:" + port, b"app.localhost"):
            status, raw = oh.raw_request(self.base, b"GET /api/cameras HTTP/1.1\r\nHost: " + host +
                                         f"\r\nAuthorization: Bearer {TOKEN}\r\n".encode() +
                                         b"Connection: close\r\n\r\n")
            self.assertEqual(status, 200, f"{host!r}: {raw[:120]!r}")
        status, headers, _ = self.get("/api/cameras", headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 200)
        self.assertNotIn("access-control-allow-origin", headers)
        status, headers, _ = self.get("/live/cam_ll/stream.m3u8", method="OPTIONS",
                                      headers={"Origin": "https://evil.example",
                                               "Access-Control-Request-Method": "GET"})
        self.assertNotIn("access-control-allow-origin", headers)

    def test_connections_beyond_the_limit_are_closed_at_once(self):
        host, port = re.match(r"http://([^/:]+):(\d+)/", self.base).groups()
        held = []
        for _ in range(MAX_CONNECTIONS + 25):
            held.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.5)
        closed = 0
        for s in held:
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        self.assertGreaterEqual(closed, 25, f"only {closed} of the extra connections were closed")
        for s in held:
            s.close()

        def served():
            try:
                return self.get("/healthz", auth=False, timeout=2)[0] == 200
            except OSError:
                return False
        h.wait_for(served, h.scaled(5), interval=0.2, what="service after the flood")
        _, _, body = self.get("/metrics")
        self.assertRegex(body.decode(), r"edgestream_http_connections_rejected_total [1-9]")

    def test_zz_daemon_unharmed(self):
        self.healthy()
        status, _, body = self.get("/live/cam_ll/stream.m3u8")
        self.assertEqual(status, 200)
        self.assertIn(b"#EXT-X-PART:", body)
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines")
        # A clean stop: exit status 0, and (sanitized builds) no report, leaks included.
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, "edgestream did not exit cleanly")
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer reports")


if __name__ == "__main__":
    h.run_tests()
