#!/usr/bin/env python3
"""Issue 12's browser test: "In auto mode, with the UDP and TCP media ports blocked, the
tile falls back to LL-HLS and plays."

The web e2e suite (web/e2e/run.mjs) checks the player's fall-back ladder with answers it
fakes in the page (a 503, a dead candidate). This one fakes nothing: the daemon answers
the offer as usual, with its UDP and TCP candidates, and the network drops the media.
It runs in a private network namespace (netns.py) where nftables rules drop every packet
to origin.webrtc.udp_port (UDP) and origin.webrtc.tcp_port (TCP); their counters show
that Chromium tried both. The dashboard's own player page (player.html, protocol=auto,
the code in web/src/live-controller.ts) must make the WHEP POST (answered 201), give up
on WebRTC, and play the camera over LL-HLS: the <video> advances.

Labelled "realtime" (tests/CMakeLists.txt): it judges playback in a browser.
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

SECONDS = 4
SCRIPT = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_transport.mjs")
PLAYWRIGHT = os.path.join(h.SOURCE_DIR, "web", "node_modules", "playwright-core")
PLAYER_PAGE = os.path.join(h.SOURCE_DIR, "web", "dist", "player.html")


class WebRTCFallbackTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        for path, what in ((PLAYWRIGHT, "install the web side (make)"),
                           (PLAYER_PAGE, "build the web player (make)")):
            if not os.path.exists(path):
                raise RuntimeError(f"{path} missing: {what}")
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-fallback")
        cls.cam = h.TestCam(cls.wd, "testcam", audio=False)
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        cls.tcp_port = h.free_port()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url, profile="ll")], cls.udp_port,
                                 webrtc={"tcp_port": cls.tcp_port})
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.daemon.wait_log(rf"webrtc event=listening .*tcp_port={cls.tcp_port}", h.scaled(15))
        oh.wait_playlist(cls.base, "cam1", parts=True, timeout=h.scaled(30))

    def test_auto_falls_back_to_ll_hls_when_both_media_ports_are_blocked(self):
        netns.block(udp=[self.udp_port], tcp=[self.tcp_port])
        try:
            rc, out, stdout, stderr = oh.run_node(
                SCRIPT, ["--base", self.base, "--camera", "cam1", "--player", "auto",
                         "--seconds", str(SECONDS)], timeout=SECONDS + 120)
            drops = netns.dropped()
        finally:
            netns.unblock()
        self.assertIsNotNone(out, f"no result from the browser:\n{stdout}\n{stderr}")
        sys.stderr.write(
            f"media ports blocked: WHEP POSTs {out.get('whep')}, playing "
            f"{out.get('protocol')} {out.get('live_ms')} ms after the page load; video "
            f"+{out.get('video_advance_s')} s, +{out.get('video_frames')} frames in {SECONDS} s; "
            f"dropped by nft: UDP {drops.get(('udp', self.udp_port))}, TCP "
            f"{drops.get(('tcp', self.tcp_port))}; player log {out.get('logs')}\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        # WebRTC was really tried: the origin answered the offer ...
        self.assertIn(201, out["whep"], out)
        # ... and Chromium's checks to both candidates went into the block.
        self.assertGreater(drops.get(("udp", self.udp_port), 0), 0, drops)
        self.assertGreater(drops.get(("tcp", self.tcp_port), 0), 0, drops)
        self.assertEqual(out["protocol"], "ll-hls", out)
        self.assertEqual(out["final_protocol"], "ll-hls", out)
        self.assertGreater(out["video_advance_s"], SECONDS * 0.6, out)
        self.assertGreater(out["video_frames"], 0, out)
        # The daemon saw no DTLS: the session it made for the POST never connected.
        connected = [line for line in self.daemon.log_lines()
                     if re.search(r"webrtc camera=\S+ session=\S+ event=(connected|tcp_connected)",
                                  line)]
        self.assertEqual(connected, [])

    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
