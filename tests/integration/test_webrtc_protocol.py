#!/usr/bin/env python3
"""WHEP signalling and the ICE-lite port against the real daemon (issue 12, "Protocol
tests"). No browser: runs under the sanitizers too.

One edgestream serves the test camera as `cam1` with a bearer token and
origin.webrtc.max_sessions_per_camera: 2. Then:
  - malformed SDP → 400, unknown camera → 404, an offer without usable H.264 → 422,
    a body that is not application/sdp → 415, a missing or wrong token → 401,
    PATCH → 405 with Allow, DELETE of an unknown session → 404, a third session of the
    camera → 503 with Retry-After; a good offer → 201, application/sdp, Location;
  - on the UDP port: a STUN Binding request with a bad MESSAGE-INTEGRITY gets no answer,
    one with the right credentials gets a success response with the right
    XOR-MAPPED-ADDRESS, integrity and fingerprint;
  - RTP leaves only after DTLS has completed: with ICE done but no DTLS handshake, nothing
    but STUN comes back while the camera streams;
  - DELETE on the Location ends the session (200), and the session's ufrag then gets no
    answer;
  - es-whep-client (tests/webrtc/whep_client.c: our STUN, DTLS client and libsrtp): a
    client whose certificate does not match the fingerprint in its offer is refused during
    the handshake (it never connects, gets no RTP, the daemon logs dtls_failed); a right
    one completes DTLS-SRTP and receives frames, none before DTLS;
  - consent (RFC 7675): a session whose browser stops sending checks is ended about 30 s
    after its last valid one, and its media stops;
  - passthrough (`cam_copy`, `transcode: copy`): the answer names the camera's own
    profile-level-id (from its SPS), and an offer with no format the camera's stream fits
    is refused with 422;
  - ICE-TCP (RFC 6544, RFC 4571 framing) on origin.webrtc.tcp_port: the answer carries a
    passive TCP candidate below the UDP one; a connection whose first frame is garbage, has
    an oversize length, or is a STUN request without (or with a bad) MESSAGE-INTEGRITY is
    closed with nothing sent back; one that sends nothing is closed after 5 s; past 32
    pending connections the next is closed at once; a valid check over TCP is answered
    (framed, XOR-MAPPED-ADDRESS = the TCP peer) and binds the connection to the session,
    whose media path it then is: closing it ends the session (reason tcp_closed);
  - /metrics: the edgestream_webrtc_* families appear, and sessions, packets, bytes,
    closes by reason and rejections move with real traffic;
  - a UDP port another process holds: the daemon starts (WARN), and POST /whep answers
    503 with Retry-After and a body that names the port (not 413, not 404).
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

TOKEN = "webrtc-test-token-1234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SDP = {"Content-Type": "application/sdp", **AUTH}
TURN_SECRET = "turn-secret-5678"


class WebRTCProtocolTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("webrtc-protocol")
        cls.cam = h.TestCam(cls.wd, "testcam", audio=False)
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        cls.tcp_port = h.free_port()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url, segment_duration=1),
                                  h.camera("cam_copy", url, transcode="copy")], cls.udp_port,
                                 token=TOKEN, webrtc={
                                     "tcp_port": cls.tcp_port,
                                     "max_sessions_per_camera": 2,
                                     "ice_servers": "stun:127.0.0.1:3478, "
                                                    "turn:127.0.0.1:3478?transport=udp",
                                     "turn_username": "turnuser",
                                     "turn_credential": TURN_SECRET})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.daemon.wait_log(r"webrtc event=listening", h.scaled(15))
        # Frames flowing (the tap only packetizes for viewers, but the camera must be live).
        oh.wait_playlist(cls.base, "cam1", timeout=h.scaled(30), token=TOKEN)

    def post(self, camera, body, headers=SDP):
        return wh.request(f"{self.base}whep/{camera}", headers=headers, method="POST",
                          data=body.encode() if isinstance(body, str) else body)

    def test_1_bad_requests_get_the_documented_status(self):
        status, _, _ = self.post("cam1", "this is not SDP")
        self.assertEqual(status, 400)
        status, _, _ = self.post("nope", wh.offer())
        self.assertEqual(status, 404)
        status, _, body = self.post("cam1", wh.offer(video_codec="VP8"))
        self.assertEqual(status, 422, body)
        status, _, _ = self.post("cam1", wh.offer(mode=0))
        self.assertEqual(status, 422)
        status, hdrs, _ = self.post("cam1", wh.offer(),
                                    headers={"Content-Type": "text/plain", **AUTH})
        self.assertEqual(status, 415)
        status, hdrs, _ = self.post("cam1", wh.offer(),
                                    headers={"Content-Type": "application/sdp"})
        self.assertEqual(status, 401)
        self.assertIn("Bearer", hdrs.get("www-authenticate", ""))
        status, _, _ = self.post("cam1", wh.offer(), headers={
            "Content-Type": "application/sdp", "Authorization": "Bearer wrong-token-000000"})
        self.assertEqual(status, 401)
        status, hdrs, _ = wh.request(f"{self.base}whep/cam1/{'0' * 32}", headers=SDP,
                                     method="PATCH", data=b"a=end-of-candidates\r\n")
        self.assertEqual(status, 405)
        self.assertIn("DELETE", hdrs.get("allow", ""))
        status, _, _ = wh.request(f"{self.base}whep/cam1/{'0' * 32}", headers=AUTH,
                                  method="DELETE")
        self.assertEqual(status, 404)
        status, _, _ = wh.request(f"{self.base}whep/cam1", headers=AUTH)  # GET
        self.assertEqual(status, 405)

    def test_2_session_ice_lite_no_rtp_before_dtls_delete_and_caps(self):
        status, hdrs, body = self.post("cam1", wh.offer(ufrag="brws"))
        self.assertEqual(status, 201, body)
        self.assertTrue(hdrs.get("content-type", "").startswith("application/sdp"))
        location = hdrs.get("location", "")
        self.assertRegex(location, r"^/whep/cam1/[0-9a-f]{32}$")
        answer = body.decode()
        # RFC 9725 §4.6: the configured STUN and TURN servers, TURN with its credentials.
        links = hdrs.get("link", "").split("\n")
        self.assertIn('<stun:127.0.0.1:3478>; rel="ice-server"', links)
        self.assertIn('<turn:127.0.0.1:3478?transport=udp>; rel="ice-server"; '
                      f'username="turnuser"; credential="{TURN_SECRET}"; '
                      'credential-type="password"', links)
        self.assertIn("a=ice-lite", answer)
        self.assertIn("a=setup:passive", answer)
        ufrag, pwd, cands = wh.answer_fields(answer)
        self.assertEqual(cands, [("127.0.0.1", self.udp_port)])

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        try:
            # Bad MESSAGE-INTEGRITY (wrong password): dropped, no answer.
            _, bad = wh.stun_request(f"{ufrag}:brws", "x" * 24)
            sock.sendto(bad, ("127.0.0.1", self.udp_port))
            with self.assertRaises(socket.timeout):
                sock.recvfrom(2048)
            # Good credentials: a success response.
            txid, good = wh.stun_request(f"{ufrag}:brws", pwd)
            sock.sendto(good, ("127.0.0.1", self.udp_port))
            data, _ = sock.recvfrom(2048)
            r = wh.parse_stun_response(data, pwd)
            self.assertEqual(r["type"], 0x0101)
            self.assertEqual(r["txid"], txid)
            self.assertEqual(r["mapped"], sock.getsockname())
            self.assertTrue(r["integrity_ok"])
            self.assertTrue(r["fingerprint_ok"])
            # ICE is done, DTLS is not: for 3 s (45 frames) nothing but STUN comes back.
            end = time.monotonic() + 3
            kinds = set()
            while time.monotonic() < end:
                sock.sendto(wh.stun_request(f"{ufrag}:brws", pwd)[1],
                            ("127.0.0.1", self.udp_port))
                try:
                    data, _ = sock.recvfrom(2048)
                    kinds.add("stun" if data[0] < 4 else f"other:{data[0]}")
                except socket.timeout:
                    pass
                time.sleep(0.2)
            self.assertEqual(kinds, {"stun"})

            # Caps: a second session is fine, a third of the same camera is refused.
            status, _, _ = self.post("cam1", wh.offer(ufrag="brw2"))
            self.assertEqual(status, 201)
            status, hdrs, _ = self.post("cam1", wh.offer(ufrag="brw3"))
            self.assertEqual(status, 503)
            self.assertIn("retry-after", hdrs)

            # DELETE ends it: 200, and its ufrag is answered no more.
            status, _, _ = wh.request(f"{self.base}{location.lstrip('/')}", headers=AUTH,
                                      method="DELETE")
            self.assertEqual(status, 200)
            status, _, _ = wh.request(f"{self.base}{location.lstrip('/')}", headers=AUTH,
                                      method="DELETE")
            self.assertEqual(status, 404)
            sock.sendto(wh.stun_request(f"{ufrag}:brws", pwd)[1], ("127.0.0.1", self.udp_port))
            with self.assertRaises(socket.timeout):
                while True:
                    sock.recvfrom(2048)
        finally:
            sock.close()


    def whep_client(self, *args):
        client = os.environ.get("ES_WHEP_CLIENT") or os.path.join(
            os.path.dirname(h.edgestream_binary()), "tests", "es-whep-client")
        proc = subprocess.run([client, "--base", self.base, "--camera", "cam1", "--token", TOKEN,
                               *args], capture_output=True, text=True,
                              timeout=h.scaled(60))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        return json.loads(out[out.find("{"):])

    def test_3_dtls_client_with_wrong_fingerprint_is_refused_right_one_gets_media(self):
        n = len(self.daemon.log_lines())
        out = self.whep_client("--seconds", str(h.scaled(3)), "--wrong-fingerprint")
        self.assertEqual(out["last_status"], 201, out)
        self.assertEqual(out["connected"], 0, out)
        self.assertEqual(out["failed"], 1, out)
        self.assertEqual(out["frames_total"], 0, out)
        self.assertEqual(out["rtp_before_dtls"], 0, out)
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=dtls_failed", h.scaled(5),
                             after_line=n)
        out = self.whep_client("--seconds", str(h.scaled(4)))
        self.assertEqual(out["connected"], 1, out)
        self.assertEqual(out["rtp_before_dtls"], 0, out)
        self.assertGreater(out["frames_total"], 10, out)

    def test_4_session_without_consent_checks_ends_after_30_s(self):
        # DTLS-SRTP connected, media flowing; checks stop 3 s in: the daemon must end the
        # session about 30 s after the last check, and media must stop then.
        n = len(self.daemon.log_lines())
        out = self.whep_client("--seconds", "40", "--checks-for", "3")
        self.assertEqual(out["connected"], 1, out)
        self.assertGreater(out["frames_total"], 10, out)
        self.assertGreater(out["last_packet_ms"], 30000, out)
        self.assertLess(out["last_packet_ms"], 36000, out)
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=consent_expired",
                             h.scaled(5), after_line=n)
        # Secrets never reach the log (DESIGN invariant 7).
        for line in self.daemon.log_lines():
            self.assertNotIn(TURN_SECRET, line)
            self.assertNotIn(TOKEN, line)
    def test_5_passthrough_answers_with_the_camera_profile_or_422(self):
        oh.wait_playlist(self.base, "cam_copy", timeout=h.scaled(30), token=TOKEN)
        # The test camera's SPS (x264enc in es-testcam): constrained baseline or not,
        # the answer must carry exactly the camera's SPS bytes 1-3.
        status, hdrs, body = self.post("cam_copy", wh.offer(ufrag="cpy1", profile="42e01f"))
        high_only = wh.offer(ufrag="cpy2", profile="640c1f")
        if status == 201:
            answer = body.decode()
            m = re.search(r"profile-level-id=([0-9a-f]{6})", answer)
            self.assertIsNotNone(m, answer)
            self.assertEqual(m.group(1)[:2], "42", answer)  # fits the baseline offer
            wh.request(f"{self.base}{hdrs['location'].lstrip('/')}", headers=AUTH,
                       method="DELETE")
            status, _, _ = self.post("cam_copy", high_only)
            self.assertEqual(status, 422)
        else:
            # A camera above baseline: the baseline-only offer is the one refused.
            self.assertEqual(status, 422, body)
            status, hdrs, body = self.post("cam_copy", high_only)
            self.assertEqual(status, 201, body)
            wh.request(f"{self.base}{hdrs['location'].lstrip('/')}", headers=AUTH,
                       method="DELETE")


    # ---- ICE-TCP ----

    def post_retrying(self, camera, body):
        """POST, waiting out 503 (a session of an earlier test may hold the cap until its
        consent expires)."""
        deadline = time.monotonic() + h.scaled(40)
        while True:
            status, hdrs, answer = self.post(camera, body)
            if status != 503 or time.monotonic() > deadline:
                return status, hdrs, answer
            time.sleep(1)

    def tcp(self):
        sock = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=h.scaled(10))
        sock.settimeout(h.scaled(10))
        return sock

    def assert_closed_without_reply(self, sock, within):
        """The daemon closes the connection (EOF or reset) within `within` seconds, having
        sent nothing. Returns the seconds it took."""
        t0 = time.monotonic()
        sock.settimeout(within)
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            data = b""
        except socket.timeout:
            self.fail(f"connection still open after {within} s")
        finally:
            sock.close()
        self.assertEqual(data, b"", "the daemon answered a connection it should have closed")
        return time.monotonic() - t0

    @staticmethod
    def framed(payload):
        return struct.pack("!H", len(payload)) + payload

    @staticmethod
    def stun_without_integrity(username):
        """A Binding request with USERNAME and FINGERPRINT but no MESSAGE-INTEGRITY."""
        u = username.encode()
        attrs = struct.pack("!HH", 0x0006, len(u)) + u + b"\0" * ((4 - len(u) % 4) % 4)
        txid = os.urandom(12)
        head = struct.pack("!HHI", 0x0001, len(attrs) + 8, wh.MAGIC) + txid
        crc = (zlib.crc32(head + attrs) & 0xFFFFFFFF) ^ wh.FINGERPRINT_XOR
        return head + attrs + struct.pack("!HHI", 0x8028, 4, crc)

    def read_frame(self, sock):
        head = b""
        while len(head) < 2:
            chunk = sock.recv(2 - len(head))
            self.assertTrue(chunk, "connection closed before a frame")
            head += chunk
        n = struct.unpack("!H", head)[0]
        body = b""
        while len(body) < n:
            chunk = sock.recv(n - len(body))
            self.assertTrue(chunk, "connection closed inside a frame")
            body += chunk
        return body

    def test_6_ice_tcp_framing_authentication_and_limits(self):
        status, hdrs, body = self.post_retrying("cam1", wh.offer(ufrag="tcpb"))
        self.assertEqual(status, 201, body)
        answer = body.decode()
        location = hdrs["location"]
        ufrag, pwd, udp = wh.answer_fields(answer)
        tcp = re.findall(r"a=candidate:\S+ 1 tcp (\d+) (\S+) (\d+) typ host tcptype passive",
                         answer)
        self.assertEqual([(ip, int(port)) for _, ip, port in tcp],
                         [("127.0.0.1", self.tcp_port)], answer)
        udp_priority = int(re.search(r"a=candidate:\S+ 1 udp (\d+)", answer).group(1))
        self.assertLess(int(tcp[0][0]), udp_priority)
        n = len(self.daemon.log_lines())

        # A first frame that is not STUN (an RTP-looking packet): closed, nothing sent.
        sock = self.tcp()
        sock.sendall(self.framed(b"\x80\x60" + os.urandom(30)))
        self.assert_closed_without_reply(sock, h.scaled(5))
        # A length over the frame limit (2048): closed before the body arrives.
        sock = self.tcp()
        sock.sendall(b"\xff\xff" + os.urandom(64))
        self.assert_closed_without_reply(sock, h.scaled(5))
        # STUN without MESSAGE-INTEGRITY, naming the live session: closed, no answer.
        sock = self.tcp()
        sock.sendall(self.framed(self.stun_without_integrity(f"{ufrag}:tcpb")))
        self.assert_closed_without_reply(sock, h.scaled(5))
        # STUN with a bad MESSAGE-INTEGRITY: closed, no answer.
        sock = self.tcp()
        sock.sendall(self.framed(wh.stun_request(f"{ufrag}:tcpb", "y" * 24)[1]))
        self.assert_closed_without_reply(sock, h.scaled(5))
        # Nothing at all: closed after the 5 s authentication deadline.
        sock = self.tcp()
        took = self.assert_closed_without_reply(sock, h.scaled(15))
        self.assertGreater(took, 3.0)

        # 32 pending connections at most: the 33rd is closed at once.
        idle = [self.tcp() for _ in range(32)]
        try:
            time.sleep(0.5)  # the daemon accepts them first
            extra = self.tcp()
            took = self.assert_closed_without_reply(extra, h.scaled(3))
            self.assertLess(took, h.scaled(3))
        finally:
            for s in idle:
                s.close()
        time.sleep(0.5)  # the daemon sees them go before the next connection

        # A fresh session for the rest (the first one's 20 s DTLS deadline may be near in a
        # sanitizer build).
        status, _, _ = wh.request(f"{self.base}{location.lstrip('/')}", headers=AUTH,
                                  method="DELETE")
        self.assertEqual(status, 200)
        status, hdrs, body = self.post_retrying("cam1", wh.offer(ufrag="tcpb"))
        self.assertEqual(status, 201, body)
        location = hdrs["location"]
        ufrag, pwd, _ = wh.answer_fields(body.decode())

        # A valid check: answered over the same connection, framed (RFC 4571), with the
        # TCP peer as XOR-MAPPED-ADDRESS; it binds the connection to the session.
        sock = self.tcp()
        try:
            for _ in range(2):
                txid, req = wh.stun_request(f"{ufrag}:tcpb", pwd)
                sock.sendall(self.framed(req))
                r = wh.parse_stun_response(self.read_frame(sock), pwd)
                self.assertEqual(r["type"], 0x0101)
                self.assertEqual(r["txid"], txid)
                self.assertEqual(r["mapped"], sock.getsockname())
                self.assertTrue(r["integrity_ok"])
                self.assertTrue(r["fingerprint_ok"])
            self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=tcp_connected",
                                 h.scaled(5), after_line=n)
            # A frame length split across writes is reassembled.
            txid, req = wh.stun_request(f"{ufrag}:tcpb", pwd)
            data = self.framed(req)
            sock.sendall(data[:1])
            time.sleep(0.2)
            sock.sendall(data[1:])
            self.assertEqual(wh.parse_stun_response(self.read_frame(sock), pwd)["txid"], txid)
        finally:
            sock.close()
        # That connection was the session's media path (USE-CANDIDATE): its close ends it.
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=ended .*reason=tcp_closed",
                             h.scaled(5), after_line=n)
        status, _, _ = wh.request(f"{self.base}{location.lstrip('/')}", headers=AUTH,
                                  method="DELETE")
        self.assertEqual(status, 404)
        text = self.metrics()
        for reason in ("tcp_unauthenticated", "tcp_oversize", "tcp_timeout", "tcp_cap",
                       "stun_integrity"):
            self.assertGreater(self.metric(text, "edgestream_webrtc_rejected_total",
                                           f'reason="{reason}"'), 0, reason)

    # ---- /metrics ----

    def metrics(self):
        status, _, body = wh.request(f"{self.base}metrics", headers=AUTH)
        self.assertEqual(status, 200)
        return body.decode()

    def metric(self, text, name, labels=None):
        sel = f"{{{labels}}}" if labels else ""
        m = re.search(rf"^{re.escape(name + sel)} (\d+)$", text, re.M)
        self.assertIsNotNone(m, f"{name}{sel} missing from /metrics")
        return int(m.group(1))

    def test_7_metrics_appear_and_move(self):
        before = self.metrics()
        for family in ("edgestream_webrtc_up", "edgestream_webrtc_sessions",
                       "edgestream_webrtc_sessions_opened_total",
                       "edgestream_webrtc_sessions_closed_total",
                       "edgestream_webrtc_packets_sent_total", "edgestream_webrtc_bytes_sent_total",
                       "edgestream_webrtc_packets_dropped_total",
                       "edgestream_webrtc_keyframe_requests_total",
                       "edgestream_webrtc_rejected_total"):
            self.assertIn(f"# TYPE {family} ", before)
        self.assertEqual(self.metric(before, "edgestream_webrtc_up"), 1)
        self.assertIsNotNone(re.search(r'^edgestream_webrtc_sessions\{camera="cam_copy"\} \d+$',
                                       before, re.M))
        # Earlier tests: a wrong fingerprint (test 3), a consent expiry (test 4).
        self.assertGreater(self.metric(before, "edgestream_webrtc_sessions_closed_total",
                                       'reason="dtls_failed"'), 0)
        self.assertGreater(self.metric(before, "edgestream_webrtc_sessions_closed_total",
                                       'reason="consent_expired"'), 0)
        # A session with media, then DELETE (es-whep-client): the counters move.
        deadline = time.monotonic() + h.scaled(40)
        while self.metric(self.metrics(), "edgestream_webrtc_sessions", 'camera="cam1"') >= 2:
            self.assertLess(time.monotonic(), deadline, "cam1's sessions never went below the cap")
            time.sleep(1)
        out = self.whep_client("--seconds", str(h.scaled(3)))
        self.assertEqual(out["connected"], 1, out)
        after = self.metrics()
        for name, labels in (("edgestream_webrtc_sessions_opened_total", None),
                             ("edgestream_webrtc_sessions_connected_total", None),
                             ("edgestream_webrtc_sessions_closed_total", 'reason="delete"'),
                             ("edgestream_webrtc_packets_sent_total", 'transport="udp"'),
                             ("edgestream_webrtc_bytes_sent_total", None)):
            self.assertGreater(self.metric(after, name, labels), self.metric(before, name, labels),
                               f"{name} {labels or ''} did not move")
        sent = (self.metric(after, "edgestream_webrtc_packets_sent_total", 'transport="udp"') -
                self.metric(before, "edgestream_webrtc_packets_sent_total", 'transport="udp"'))
        self.assertGreater(sent, out["frames_total"], out)

    def test_8_udp_port_taken_answers_503_not_413(self):
        # Another process holds the UDP port: WebRTC cannot start, the rest of the daemon
        # does; an offer must get 503 + Retry-After saying why.
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        wd = os.path.join(self.wd, "taken")
        os.makedirs(wd, exist_ok=True)
        config = wh.write_config(os.path.join(wd, "cameras.yaml"),
                                 [h.camera("cam1", self.cam.url)], port, token=TOKEN,
                                 webrtc={"tcp_port": h.free_port()})
        daemon = None
        try:
            daemon, base = oh.start_daemon(wd, config, label="edgestream-port-taken")
            daemon.wait_log(rf"webrtc event=bind_failed host=127.0.0.1 port={port}",
                            h.scaled(15))
            status, hdrs, body = wh.request(f"{base}whep/cam1", headers=SDP, method="POST",
                                            data=wh.offer().encode())
            self.assertEqual(status, 503, body)
            self.assertTrue(hdrs.get("retry-after", "").isdigit(), hdrs)
            self.assertIn(f"UDP port 127.0.0.1:{port} could not be bound", body.decode())
            # The rest of the origin works, and says WebRTC is down.
            status, _, body = wh.request(f"{base}metrics", headers=AUTH)
            self.assertEqual(status, 200)
            self.assertEqual(self.metric(body.decode(), "edgestream_webrtc_up"), 0)
            self.assertEqual(daemon.stop(), 0)
            self.assertEqual(daemon.sanitizer_reports(), [])
        finally:
            holder.close()
            if daemon:
                daemon.stop()

    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        # Last: SIGTERM, exit 0, and (under ASan/UBSan) no report, leaks included.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])

if __name__ == "__main__":
    h.run_tests()
