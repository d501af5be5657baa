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
    is refused with 422.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

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
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url, segment_duration=1),
                                  h.camera("cam_copy", url, transcode="copy")], cls.udp_port,
                                 token=TOKEN, webrtc={
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


    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        # Last: SIGTERM, exit 0, and (under ASan/UBSan) no report, leaks included.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])

if __name__ == "__main__":
    h.run_tests()
