#!/usr/bin/env python3
"""Debian's Chromium plays a real camera over WHEP from the real daemon, on loopback
(issue 12, "Browser test").

The test camera (es-testcam, 1280x720 25 fps H.264) is transcoded by edgestream to 854x480
15 fps; tests/webrtc/whep_play.mjs loads a page from the daemon's origin, POSTs a
recvonly offer to /whep/cam1, applies the answer and watches the <video> for 10 s. It
must show frames decoded at the camera's output rate (>= 80 % of 15 fps), no freeze (no
gap between presented frames above 1 s), the transcoded picture size, Opus audio packets
(transcoded from the camera's AAC) at 50 a second, ICE connected, and
DELETE on the session's Location answered 200. The daemon must log the session's DTLS
connection and its end.

The same page then plays `cam_copy` (transcode: copy) for 6 s: the camera's own
1280x720 at 25 fps, answered with the camera's profile-level-id.

Labelled "realtime" (tests/CMakeLists.txt): a sanitized daemon cannot transcode in real
time on two cores, so the sanitizer pass skips it; test_webrtc_protocol.py covers the
same code under the sanitizers.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

SECONDS = 10
FPS = 15
PLAYER = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_play.mjs")
PLAYWRIGHT = os.path.join(h.SOURCE_DIR, "web", "node_modules", "playwright-core")


class WebRTCPlaybackTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PLAYWRIGHT):
            raise RuntimeError(f"{PLAYWRIGHT} missing: install the web side (make)")
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-playback")
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url, target_fps=FPS),
                                  h.camera("cam_copy", url, transcode="copy")], cls.udp_port)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.daemon.wait_log(r"webrtc event=listening", h.scaled(15))
        oh.wait_playlist(cls.base, "cam1", timeout=h.scaled(30))
        oh.wait_playlist(cls.base, "cam_copy", timeout=h.scaled(30))

    def test_chromium_plays_the_camera_over_whep_without_a_freeze(self):
        rc, out, stdout, stderr = oh.run_node(
            PLAYER, ["--base", self.base, "--camera", "cam1", "--seconds", str(SECONDS)],
            timeout=SECONDS + 120)
        self.assertIsNotNone(out, f"no result from the browser:\n{stdout}\n{stderr}")
        sys.stderr.write(
            f"WHEP in Chromium: POST {out.get('post_status')}, first frame after "
            f"{out.get('first_frame_ms')} ms, {out.get('frames_decoded')} frames decoded and "
            f"{out.get('frames_presented')} presented in {SECONDS} s, longest gap "
            f"{out.get('max_gap_ms')} ms, {out.get('width')}x{out.get('height')}, packets lost "
            f"{out.get('packets_lost')}, PLI {out.get('pli_count')}, audio "
            f"{out.get('audio_packets')} packets ({out.get('audio_codec')}), DELETE "
            f"{out.get('delete_status')}\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual(out["post_status"], 201)
        self.assertTrue(out["answer_has_ice_lite"])
        self.assertEqual(out["ice"], "connected")
        self.assertGreaterEqual(out["frames_decoded"], int(FPS * SECONDS * 0.8))
        self.assertLess(out["max_gap_ms"], 1000)
        self.assertEqual((out["width"], out["height"]), (854, 480))
        self.assertEqual(out["delete_status"], 200)
        # Opus from the camera's AAC: 50 packets a second (20 ms each).
        self.assertEqual(out["audio_codec"], "audio/opus")
        self.assertGreaterEqual(out["audio_packets"], 50 * SECONDS * 0.8)
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=connected", h.scaled(5))
        self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=ended", h.scaled(5))

    def test_passthrough_camera_plays_at_its_own_size_and_rate(self):
        # transcode: copy: the camera's 1280x720 25 fps H.264 as it is.
        rc, out, stdout, stderr = oh.run_node(
            PLAYER, ["--base", self.base, "--camera", "cam_copy", "--seconds", "6"],
            timeout=6 + 120)
        self.assertIsNotNone(out, f"no result from the browser:\n{stdout}\n{stderr}")
        sys.stderr.write(
            f"WHEP passthrough in Chromium: first frame after {out.get('first_frame_ms')} ms, "
            f"{out.get('frames_decoded')} frames decoded in 6 s, longest gap "
            f"{out.get('max_gap_ms')} ms, {out.get('width')}x{out.get('height')}, audio "
            f"{out.get('audio_packets')} packets\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual((out["width"], out["height"]), (1280, 720))
        self.assertGreaterEqual(out["frames_decoded"], int(25 * 6 * 0.8))
        self.assertLess(out["max_gap_ms"], 1000)
        self.assertEqual(out["delete_status"], 200)


    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        # Last: SIGTERM, exit 0, and (under ASan/UBSan) no report, leaks included.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])

if __name__ == "__main__":
    h.run_tests()
