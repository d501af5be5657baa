#!/usr/bin/env python3
"""ICE-TCP (RFC 6544 passive candidate, RFC 4571 framing): Debian's Chromium plays a camera
over TCP when UDP is blocked, and over UDP when it is not (issue 12: "an ICE-TCP passive
candidate on a TCP port for networks that block UDP").

The whole test runs in a private network namespace (netns.py: `unshare --net`, loopback
up), so the block is a real one: an nftables rule drops every UDP packet to the daemon's
WebRTC port, and its counter shows that Chromium did try UDP. The daemon is not told.

  1. UDP blocked: the answer carries the TCP candidate; Chromium's selected pair is our
     TCP passive candidate on origin.webrtc.tcp_port; frames decode at the camera's rate
     without a freeze; /metrics counts the session as TCP and packets sent over TCP.
  2. Nothing blocked: the same page picks UDP (the TCP candidate's priority is lower).

Labelled "realtime" (tests/CMakeLists.txt): it judges playback in a browser, which a
sanitized daemon cannot do in real time on two cores; test_webrtc_protocol.py drives the
same TCP code (framing, authentication, limits) under the sanitizers.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

netns.enter()  # before anything starts: everything below runs in the namespace

import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

FPS = 15
SECONDS = 6
SCRIPT = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_transport.mjs")
PLAYWRIGHT = os.path.join(h.SOURCE_DIR, "web", "node_modules", "playwright-core")


def metric(base, name):
    _, _, body = wh.request(f"{base}metrics")
    m = re.search(rf"^{re.escape(name)} (\d+)$", body.decode(), re.M)
    return int(m.group(1)) if m else None


class WebRTCTcpTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PLAYWRIGHT):
            raise RuntimeError(f"{PLAYWRIGHT} missing: install the web side (make)")
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-tcp")
        cls.cam = h.TestCam(cls.wd, "testcam", audio=False)
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        cls.tcp_port = h.free_port()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url, target_fps=FPS)], cls.udp_port,
                                 webrtc={"tcp_port": cls.tcp_port})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.daemon.wait_log(rf"webrtc event=listening .*tcp_port={cls.tcp_port}", h.scaled(15))
        oh.wait_playlist(cls.base, "cam1", timeout=h.scaled(30))

    def play(self):
        rc, out, stdout, stderr = oh.run_node(
            SCRIPT, ["--base", self.base, "--camera", "cam1", "--seconds", str(SECONDS)],
            timeout=SECONDS + 120)
        self.assertIsNotNone(out, f"no result from the browser:\n{stdout}\n{stderr}")
        return out

    def test_1_udp_blocked_plays_over_tcp(self):
        netns.block(udp=[self.udp_port])
        try:
            out = self.play()
            drops = netns.dropped()
        finally:
            netns.unblock()
        sys.stderr.write(
            f"UDP blocked: POST {out.get('post_status')}, first frame after "
            f"{out.get('first_frame_ms')} ms over {out.get('transport')} "
            f"(port {out.get('remote_port')}, {out.get('remote_tcp_type')}), "
            f"{out.get('frames_decoded')} frames in {SECONDS} s, longest gap "
            f"{out.get('max_gap_ms')} ms; UDP packets dropped by nft: "
            f"{drops.get(('udp', self.udp_port))}\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual(out["answer_tcp_candidates"], 1, out)
        # Chromium did send to the UDP port, and the kernel dropped it.
        self.assertGreater(drops.get(("udp", self.udp_port), 0), 0, drops)
        self.assertEqual(out["transport"], "tcp", out)
        self.assertEqual(out["remote_port"], self.tcp_port, out)
        self.assertEqual(out["remote_tcp_type"], "passive", out)
        self.assertGreaterEqual(out["frames_decoded"], int(FPS * SECONDS * 0.8), out)
        self.assertLess(out["max_gap_ms"], 1000, out)
        self.assertEqual(out["delete_status"], 200, out)
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=tcp_connected", h.scaled(5))
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=ended .*reason=delete",
                             h.scaled(5))
        _, _, body = wh.request(f"{self.base}metrics")
        text = body.decode()
        sent = re.search(r'^edgestream_webrtc_packets_sent_total\{transport="tcp"\} (\d+)$',
                         text, re.M)
        self.assertIsNotNone(sent, text)
        self.assertGreater(int(sent.group(1)), FPS * SECONDS, text)
        dropped = re.search(r'^edgestream_webrtc_packets_dropped_total\{transport="tcp"\} (\d+)$',
                            text, re.M)
        plis = re.search(r"^edgestream_webrtc_keyframe_requests_total (\d+)$", text, re.M)
        sys.stderr.write(f"over TCP: {sent.group(1)} packets sent, {dropped.group(1)} dropped "
                         f"(slow viewer), {plis.group(1)} PLI/FIR received; load "
                         f"{os.getloadavg()[0]:.1f}\n")

    def test_2_nothing_blocked_plays_over_udp(self):
        out = self.play()
        sys.stderr.write(
            f"nothing blocked: first frame after {out.get('first_frame_ms')} ms over "
            f"{out.get('transport')} (port {out.get('remote_port')}), "
            f"{out.get('frames_decoded')} frames in {SECONDS} s, longest gap "
            f"{out.get('max_gap_ms')} ms\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual(out["transport"], "udp", out)
        self.assertEqual(out["remote_port"], self.udp_port, out)
        self.assertGreaterEqual(out["frames_decoded"], int(FPS * SECONDS * 0.8), out)

    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
