#!/usr/bin/env python3
"""WebRTC audio from G.711 cameras (issue 12: "Opus ... transcoded from the camera's AAC
or G.711 only while at least one WebRTC viewer is watching").

Two test cameras send G.711 instead of AAC (es-testcam --audio-codec pcmu / pcma: 8 kHz
mono, RTP payload types 0 and 8): `cam_pcmu` is transcoded (x264), `cam_pcma` passed
through (transcode: copy). Their G.711 goes to the WebRTC side as the camera sent it
(src/app/camera.c taps it before the transcoder) and is decoded by libavcodec's
pcm_mulaw / pcm_alaw and encoded to Opus (src/webrtc/opus.c) while a viewer watches.
Chromium (tests/webrtc/whep_play.mjs) watches each for 6 s and must receive Opus: its
inbound-rtp audio codec audio/opus, at least 40 packets a second (20 ms packets: 50), and
the picture. The daemon's log must show the cameras' audio as G.711, and the Opus encoder
made from pcm_mulaw / pcm_alaw (not from AAC) only once a viewer watches.

Labelled "realtime" (tests/CMakeLists.txt), like the other Chromium WebRTC tests.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

SECONDS = 6
MIN_PACKETS_PER_SECOND = 40
PLAYER = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_play.mjs")


class WebRTCG711AudioTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-g711")
        cls.cam = h.TestCam(cls.wd, "testcam-pcmu", extra_args=["--audio-codec", "pcmu"])
        cls.cam_a = h.TestCam(cls.wd, "testcam-pcma", extra_args=["--audio-codec", "pcma"])
        url_u = cls.cam.start()
        url_a = cls.cam_a.start()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam_pcmu", url_u),
                                  h.camera("cam_pcma", url_a, transcode="copy")],
                                 wh.free_udp_port())
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        oh.wait_playlist(cls.base, "cam_pcmu", timeout=h.scaled(30))
        oh.wait_playlist(cls.base, "cam_pcma", timeout=h.scaled(30))

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "cam_a", None):
            cls.cam_a.stop()
        super().tearDownClass()

    def watch(self, camera, decoder):
        started = rf"webrtc camera={camera} event=opus_started from=(\S+)"
        early = [l for l in self.daemon.log_lines() if f"camera={camera} event=opus_started" in l]
        self.assertFalse(early, "Opus made before anyone watched")
        rc, out, stdout, stderr = oh.run_node(
            PLAYER, ["--base", self.base, "--camera", camera, "--seconds", str(SECONDS)],
            timeout=SECONDS + 120)
        self.assertIsNotNone(out, f"no result from the browser:\n{stdout}\n{stderr}")
        sys.stderr.write(f"{camera}: {out.get('audio_packets')} audio packets "
                         f"({out.get('audio_codec')}) and {out.get('frames_decoded')} frames "
                         f"in {SECONDS} s, first latency figure after "
                         f"{out.get('first_playout_estimate_ms')} ms\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual(out["audio_codec"], "audio/opus")
        self.assertGreaterEqual(out["audio_packets"], MIN_PACKETS_PER_SECOND * SECONDS)
        self.assertGreater(out["frames_decoded"], 0)
        self.assertEqual(out["delete_status"], 200)
        _, line, _ = self.daemon.wait_log(started, h.scaled(5))
        self.assertEqual(re.search(started, line).group(1), decoder, line)

    def test_pcmu_camera_transcoded_gives_opus(self):
        self.daemon.wait_log(r"camera=cam_pcmu event=playing .*audio=g711", h.scaled(5))
        self.watch("cam_pcmu", "pcm_mulaw")

    def test_pcma_camera_passed_through_gives_opus(self):
        self.daemon.wait_log(r"camera=cam_pcma event=playing .*audio=g711", h.scaled(5))
        self.watch("cam_pcma", "pcm_alaw")

    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
