#!/usr/bin/env python3
"""The origin under attack while it serves (issue 11, "What it must show").

edgestream transcodes a real test camera (es-testcam, RTSP) to Low-Latency HLS and serves
it from its origin on 127.0.0.1, with small limits (ATTACK sizes below). One LL viewer is
measured throughout: it reloads the playlist with blocking requests and fetches every
part, and must receive every part in order without a gap. Meanwhile, one after another
(every loop bounded in count and in time, every connection to 127.0.0.1 only):

  - slowloris: request heads trickled a byte at a time;
  - a flood of parked blocking reloads from many connections (over the per-client cap:
    503 with Retry-After at once);
  - static files requested and never read (one shared copy, cut when no byte moves), and
    sourcemaps (not in the served build: 404);
  - oversized request heads (cut at the head cap, long before h2o's ~400 KiB);
  - HTTP/2: the h2c upgrade and the prior-knowledge preface on plaintext get HTTP/1.1 only,
    so Rapid Reset (CVE-2023-44487, unfixed in libh2o 2.2.5) has nothing to reach; nghttp
    and h2load (nghttp2-client) fail to get HTTP/2 when they are installed;
  - a DNS-rebinding Host (421) and a cross-origin read (no Access-Control-Allow-Origin);
  - more connections than max_connections.

During and after: the daemon's RSS (VmRSS in /proc/<pid>/status) stays under its resting
RSS + RSS_MARGIN, its descriptors (/proc/<pid>/fd) under max_connections + its resting
count, every refused request gets its documented status, nothing is served that should not
be, and the daemon stops cleanly (under ASan: no report, no leak).
"""

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402

MAX_CONNECTIONS = 200
IDLE_MS = 2000
PARKED_PER_CLIENT = 32
# Attack sizes.
SLOWLORIS_CONNS = 40
FLOOD_CONNS = 100
FLOOD_SECONDS = 6.0
STATIC_CONNS = 40
BIG_FILE = 8 << 20                 # 40 unread requests of it would be 320 MiB if copied each
HEAD_CONNS = 16
HEAD_BYTES = 300 << 10             # each; h2o alone would buffer up to ~400 KiB of it
EXTRA_CONNS = 60                   # beyond max_connections
# The bound: the daemon's RSS at rest (camera transcoding, viewer playing) plus this.
# AddressSanitizer keeps freed memory in its quarantine (256 MiB by default) before reuse,
# so under it RSS grows with any churn: the bound there leaves room for the quarantine.
RSS_MARGIN = (384 if h.SANITIZE else 64) << 20


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) * 1024


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Monitor(threading.Thread):
    """Samples the daemon's RSS and descriptor count every 50 ms; peaks per phase."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "rest"
        self.peaks = {}
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                rss, fds = proc_rss(self.pid), proc_fds(self.pid)
            except OSError:
                return
            p = self.peaks.setdefault(self.phase, [0, 0])
            p[0], p[1] = max(p[0], rss), max(p[1], fds)
            self.stop_event.wait(0.05)

    def peak(self):
        return (max(p[0] for p in self.peaks.values()), max(p[1] for p in self.peaks.values()))


def part_key(uri):
    m = re.search(r"part_(\d+)_(\d+)\.m4s", uri)
    return (int(m.group(1)), int(m.group(2)))


class Viewer(threading.Thread):
    """One LL-HLS viewer on its own keep-alive connection: a blocking reload for the part
    after the last one it has, then every new part the playlist lists, in order. A reload
    refused 503 (a cap reached by the attackers on the same address) is followed by a
    plain reload, as a player would after Retry-After."""

    def __init__(self, base, cam):
        super().__init__(daemon=True)
        m = re.match(r"http://([^/:]+):(\d+)/", base)
        self.host, self.port, self.cam = m.group(1), int(m.group(2)), cam
        self.received = []          # (msn, part) in the order they arrived
        self.parts_in = {}          # msn -> parts of the complete segment
        self.refused = 0
        self.errors = []
        self.max_delay = 0.0        # part arrival minus its publication, seconds
        self.stop_event = threading.Event()
        self.conn = None

    def get(self, path):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                if attempt:
                    self.errors.append(f"{path}: {e!r}")
        return None, {}, b""

    def run(self):
        playlist = f"/live/{self.cam}/stream.m3u8"
        last = None
        deadline = time.monotonic() + h.scaled(300)
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            query = "" if last is None else f"?_HLS_msn={last[0]}&_HLS_part={last[1] + 1}"
            status, headers, body = self.get(playlist + query)
            if status == 503 and query:
                self.refused += 1
                if headers.get("retry-after") is None:
                    self.errors.append("503 without Retry-After")
                time.sleep(0.05)
                status, headers, body = self.get(playlist)
            if status != 200:
                self.errors.append(f"playlist {query}: {status}")
                time.sleep(0.1)
                continue
            text = body.decode(errors="replace")
            parts, msn = [], None
            for line in text.splitlines():
                if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                    msn = int(line.split(":")[1])
                elif line.startswith("#EXT-X-PART:"):
                    parts.append(re.search(r'URI="([^"]+)"', line).group(1))
                elif line and not line.startswith("#"):
                    k = [part_key(u) for u in parts if part_key(u)[0] == msn]
                    if k:
                        self.parts_in[msn] = len(k)
                    msn += 1
            if last is None:
                last = part_key(parts[-1])
                last = (last[0], last[1] - 1) if last[1] > 0 else last
            for uri in parts:
                key = part_key(uri)
                if key <= last:
                    continue
                status, headers, _ = self.get(f"/live/{self.cam}/{uri}")
                if status != 200:
                    self.errors.append(f"{uri}: {status}")
                    continue
                published = int(headers.get("x-edgestream-published-us", "0")) / 1e6
                if published:
                    self.max_delay = max(self.max_delay, time.time() - published)
                self.received.append(key)
                last = key

    def gaps(self):
        out = []
        for (a, b), (c, d) in zip(self.received, self.received[1:]):
            if c == a and d == b + 1:
                continue
            if c == a + 1 and d == 0 and self.parts_in.get(a) == b + 1:
                continue
            out.append(((a, b), (c, d)))
        return out


class OriginAbuseTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("origin-abuse")
        cls.web = os.path.join(cls.wd, "www")
        cls.dist_js = None
        if os.path.exists(os.path.join(oh.WEB_DIST, "index.html")):
            shutil.copytree(oh.WEB_DIST, cls.web)     # the real served build
            js = [n for n in os.listdir(os.path.join(cls.web, "assets")) if n.endswith(".js")]
            cls.dist_js = sorted(js)[0] if js else None
        else:
            os.makedirs(os.path.join(cls.web, "assets"))
            with open(os.path.join(cls.web, "index.html"), "w") as f:
                f.write("<!doctype html><title>player</title>\n")
        with open(os.path.join(cls.web, "assets", "big-0000.js"), "wb") as f:
            f.write(os.urandom(BIG_FILE))
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        config = oh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam_ll", url, profile="ll")],
                                 origin={"web_root": cls.web, "max_connections": MAX_CONNECTIONS,
                                         "idle_timeout_ms": IDLE_MS,
                                         "max_parked_per_client": PARKED_PER_CLIENT})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.host, cls.port = re.match(r"http://([^/:]+):(\d+)/", cls.base).groups()
        cls.port = int(cls.port)
        oh.wait_playlist(cls.base, "cam_ll", parts=True)
        cls.viewer = Viewer(cls.base, "cam_ll")
        cls.viewer.start()
        cls.monitor = Monitor(cls.daemon.pid)
        cls.monitor.start()
        time.sleep(3)                         # the viewer settles; the window fills a bit
        cls.rest_rss = proc_rss(cls.daemon.pid)
        cls.rest_fds = proc_fds(cls.daemon.pid)
        cls.report = {}

    @classmethod
    def tearDownClass(cls):
        cls.viewer.stop_event.set()
        cls.monitor.stop_event.set()
        super().tearDownClass()

    # ---- helpers ----

    def connect(self, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect((self.host, self.port))
        return s

    def metric(self, name):
        _, _, body = oh.request(self.base + "metrics", headers={"Host": "127.0.0.1"})
        m = re.search(rb"^" + name.encode() + rb" (\d+)", body, re.M)
        return int(m.group(1))

    def newest(self):
        _, _, body = oh.request(self.base + "live/cam_ll/stream.m3u8")
        info = oh.parse_ll(body.decode())
        return max(info["segments"])

    def check_bounds(self, phase):
        rss, fds = self.monitor.peaks.get(phase, [0, 0])
        rss, fds = max(rss, proc_rss(self.daemon.pid)), max(fds, proc_fds(self.daemon.pid))
        self.report[phase] = (rss, fds)
        self.assertLess(rss, self.rest_rss + RSS_MARGIN,
                        f"{phase}: RSS {rss >> 20} MiB, at rest {self.rest_rss >> 20} MiB")
        self.assertLessEqual(fds, MAX_CONNECTIONS + self.rest_fds, f"{phase}: {fds} descriptors")
        self.assertTrue(self.daemon.alive())

    # ---- the attacks, in order ----

    def test_1_slowloris_heads_are_cut(self):
        self.monitor.phase = "slowloris"
        socks = [self.connect() for _ in range(SLOWLORIS_CONNS)]
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0, cut = time.monotonic(), []
        while socks and time.monotonic() - t0 < IDLE_MS / 1000 + h.scaled(6):
            for s in list(socks):
                try:
                    s.send(b"X")
                    s.settimeout(0.01)
                    if s.recv(100) == b"":
                        raise ConnectionResetError
                except socket.timeout:
                    continue
                except OSError:
                    cut.append(time.monotonic() - t0)
                    socks.remove(s)
                    s.close()
            time.sleep(0.25)
        for s in socks:
            s.close()
        self.assertEqual(len(cut), SLOWLORIS_CONNS, "trickling heads were never cut")
        self.report["slowloris cut after s"] = round(max(cut), 1)
        self.check_bounds("slowloris")

    def test_2_parked_flood_is_capped(self):
        self.monitor.phase = "parked flood"
        statuses, retry_after_missing, parked_seen = {}, [0], [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + FLOOD_SECONDS

        def flood():
            try:
                s = self.connect()
            except OSError:
                return
            f = s.makefile("rb")
            try:
                while time.monotonic() < stop_at:
                    target = self.newest() + 2      # the furthest a request may ask for
                    s.sendall(f"GET /live/cam_ll/stream.m3u8?_HLS_msn={target}&_HLS_part=0 "
                              "HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                    status = int(f.readline().split()[1])
                    headers = {}
                    while True:
                        line = f.readline().strip()
                        if not line:
                            break
                        k, _, v = line.decode().partition(":")
                        headers[k.strip().lower()] = v.strip()
                    f.read(int(headers.get("content-length", "0")))
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                        if status == 503 and "retry-after" not in headers:
                            retry_after_missing[0] += 1
                    if status == 503:
                        time.sleep(0.2)
            except (OSError, ValueError, IndexError):
                pass
            finally:
                f.close()
                s.close()

        threads = [threading.Thread(target=flood, daemon=True) for _ in range(FLOOD_CONNS)]
        for t in threads:
            t.start()
        while time.monotonic() < stop_at:
            parked_seen[0] = max(parked_seen[0], self.metric("edgestream_http_parked"))
            time.sleep(0.2)
        for t in threads:
            t.join(timeout=h.scaled(15))
        self.report["flood statuses"] = dict(statuses)
        self.report["parked peak"] = parked_seen[0]
        self.assertGreater(statuses.get(503, 0), 0, statuses)
        self.assertEqual(retry_after_missing[0], 0, "503 without Retry-After")
        self.assertTrue(set(statuses) <= {200, 503}, statuses)
        # The viewer's blocking reload counts against the same address (127.0.0.1).
        self.assertLessEqual(parked_seen[0], PARKED_PER_CLIENT)
        self.assertGreater(self.metric("edgestream_http_parked_refused_total"), 0)
        self.check_bounds("parked flood")

    def test_3_unread_static_files_share_one_copy(self):
        self.monitor.phase = "static unread"
        cut_before = self.metric("edgestream_http_send_timeouts_total")
        socks = []
        for _ in range(STATIC_CONNS):
            s = self.connect(rcvbuf=4096)
            s.sendall(b"GET /assets/big-0000.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            socks.append(s)
        # Sourcemaps are not in the served build.
        maps = ["/assets/big-0000.js.map", "/index.html.map"]
        if self.dist_js:
            maps.append(f"/assets/{self.dist_js}.map")
            self.assertEqual([n for n in os.listdir(os.path.join(self.web, "assets"))
                              if n.endswith(".map")], [], "web/dist ships sourcemaps")
        for path in maps:
            status, _, body = oh.request(self.base + path.lstrip("/"))
            self.assertEqual(status, 404, path)
        time.sleep(1.0)
        self.check_bounds("static unread")

        # Stalled readers are cut once no byte moves for a whole idle period.
        def all_cut():
            return self.metric("edgestream_http_send_timeouts_total") - cut_before >= STATIC_CONNS
        h.wait_for(all_cut, 2 * IDLE_MS / 1000 + h.scaled(5), interval=0.2,
                   what="the unread static responses to be cut")
        for s in socks:
            s.close()
        self.check_bounds("static unread")

    def test_4_oversized_heads_are_cut_early(self):
        self.monitor.phase = "oversized heads"
        refused_before = self.metric("edgestream_http_heads_refused_total")
        results = []

        def send_huge():
            t0 = time.monotonic()
            try:
                s = self.connect()
            except OSError as e:
                results.append(("connect", repr(e), 0))
                return
            status, sent = None, 0
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                chunk = b"a" * 8192
                s.settimeout(2)
                while sent < HEAD_BYTES:
                    s.sendall(chunk)
                    sent += len(chunk)
                s.settimeout(h.scaled(3))
                data = s.recv(200)
                m = re.match(rb"HTTP/1\.1 (\d{3})", data)
                status = int(m.group(1)) if m else "closed"
            except socket.timeout:
                status = "timeout"
            except OSError:
                status = "reset"
            finally:
                s.close()
            results.append((status, sent, time.monotonic() - t0))

        threads = [threading.Thread(target=send_huge, daemon=True) for _ in range(HEAD_CONNS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=h.scaled(20))
        self.report["oversized head answers"] = sorted({str(r[0]) for r in results})
        for status, sent, took in results:
            # 431, or the connection closed under a client still sending: never served,
            # never held until the idle timeout.
            self.assertIn(status, (431, "closed", "reset"), results)
            self.assertLess(took, IDLE_MS / 1000, f"held {took:.1f} s")
        self.assertGreaterEqual(self.metric("edgestream_http_heads_refused_total") - refused_before,
                                HEAD_CONNS)
        self.check_bounds("oversized heads")

    def test_5_no_http2_on_plaintext(self):
        self.monitor.phase = "http2"
        # Prior-knowledge preface + SETTINGS: an HTTP/1.1 400 or a close, never a SETTINGS frame.
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        status, raw = oh.raw_request(self.base, preface, timeout=3)
        self.assertFalse(raw[3:4] == b"\x04" and not raw.startswith(b"HTTP/"),
                         f"HTTP/2 SETTINGS came back: {raw[:40]!r}")
        self.assertIn(status, (None, 400), raw[:80])
        # The h2c upgrade is ignored: HTTP/1.1 200, not 101 Switching Protocols.
        status, raw = oh.raw_request(self.base, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                     b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
                                     b"Connection: close\r\n\r\n", timeout=3)
        self.assertEqual(status, 200, raw[:120])
        self.assertNotIn(b"101", raw.split(b"\r\n")[0])
        self.assertNotIn(b"upgrade: h2c", raw.lower())
        # Debian's nghttp2 clients, when installed (nghttp2-client).
        nghttp, h2load = shutil.which("nghttp"), shutil.which("h2load")
        if nghttp:
            for args in ([], ["-u"]):           # prior knowledge, then the upgrade
                p = subprocess.run([nghttp, *args, "-v", "-t", "3", self.base + "healthz"],
                                   capture_output=True, text=True, timeout=20)
                # No SETTINGS from the server, no switch; over the upgrade path the answer
                # is plain HTTP/1.1.
                self.assertNotIn("recv SETTINGS frame", p.stdout, p.stdout[-500:])
                self.assertNotIn("HTTP Upgrade success", p.stdout, p.stdout[-500:])
                if args:
                    self.assertIn("HTTP/1.1 200 OK", p.stdout, p.stdout[-500:])
        if h2load:
            # Rapid Reset needs HTTP/2 streams: h2load gets none at all.
            p = subprocess.run([h2load, "-n", "20", "-c", "2", "-T", "3", self.base + "healthz"],
                               capture_output=True, text=True, timeout=30)
            m = re.search(r"(\d+) succeeded", p.stdout)
            self.assertTrue(m and int(m.group(1)) == 0, p.stdout[-800:])
        self.report["h2 tools"] = [t for t in ("nghttp", "h2load") if shutil.which(t)]
        self.check_bounds("http2")

    def test_6_rebinding_host_and_foreign_origin_get_nothing(self):
        self.monitor.phase = "host and origin"
        for host in (b"evil.example", b"evil.example:%d" % self.port, b"127.0.0.1.evil.example"):
            for path in (b"/api/cameras", b"/metrics", b"/live/cam_ll/stream.m3u8", b"/"):
                status, raw = oh.raw_request(self.base, b"GET " + path + b" HTTP/1.1\r\nHost: " +
                                             host + b"\r\nConnection: close\r\n\r\n", timeout=3)
                self.assertEqual(status, 421, f"{host!r} {path!r}: {raw[:100]!r}")
                self.assertNotIn(b"cam_ll", raw)
                self.assertNotIn(b"#EXTM3U", raw)
        # A page elsewhere may send the request, but cannot read the answer.
        for path in ("api/cameras", "metrics", "live/cam_ll/stream.m3u8"):
            status, headers, _ = oh.request(self.base + path,
                                            headers={"Origin": "https://evil.example"})
            self.assertEqual(status, 200, path)
            self.assertNotIn("access-control-allow-origin", headers, path)
        status, headers, _ = oh.request(self.base + "api/cameras", method="OPTIONS",
                                        headers={"Origin": "https://evil.example",
                                                 "Access-Control-Request-Method": "GET"})
        self.assertNotIn("access-control-allow-origin", headers)
        self.check_bounds("host and origin")

    def test_7_connections_beyond_the_limit(self):
        self.monitor.phase = "connection flood"
        held = []
        try:
            for _ in range(MAX_CONNECTIONS + EXTRA_CONNS):
                try:
                    held.append(self.connect())
                except OSError:
                    break
            time.sleep(0.5)
            self.check_bounds("connection flood")
        finally:
            for s in held:
                s.close()

    def test_8_viewer_got_every_part_and_daemon_is_unharmed(self):
        self.monitor.phase = "after"
        time.sleep(2)
        status, _, _ = oh.request(self.base + "healthz")
        self.assertEqual(status, 200)
        v = self.viewer
        got_before = len(v.received)
        h.wait_for(lambda: len(v.received) > got_before + 3, h.scaled(10), interval=0.1,
                   what="the viewer to keep receiving parts after the attacks")
        v.stop_event.set()
        v.join(timeout=h.scaled(20))
        self.check_bounds("after")
        rss, fds = self.monitor.peak()
        sys.stderr.write(
            f"abuse: rest RSS {self.rest_rss >> 20} MiB, peak {rss >> 20} MiB (bound +"
            f"{RSS_MARGIN >> 20} MiB); rest fds {self.rest_fds}, peak {fds} "
            f"(max_connections {MAX_CONNECTIONS}); viewer {len(v.received)} parts, "
            f"{v.refused} reloads refused 503, max delay {v.max_delay:.2f} s\n")
        for k, val in self.report.items():
            if isinstance(val, tuple):
                val = f"RSS {val[0] >> 20} MiB, fds {val[1]}"
            sys.stderr.write(f"abuse: {k}: {val}\n")
        self.assertEqual(v.errors, [], "the viewer saw errors")
        self.assertEqual(v.gaps(), [], "the viewer missed parts")
        # 0.2 s parts for the whole run: at least a few per second.
        self.assertGreater(len(v.received), 40)
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines")
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, "edgestream did not exit cleanly")
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer reports")


if __name__ == "__main__":
    h.run_tests()
