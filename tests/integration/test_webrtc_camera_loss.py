#!/usr/bin/env python3
"""A WHEP session survives the camera's loss (issue 12, "Kill the test camera for 10 s: the
same session resumes within 3 s of the camera's return, with no page reload").

Chromium (tests/webrtc/whep_play.mjs) watches `cam1` over WHEP for 30 s. 6 s in, the test
camera is killed (SIGKILL); 10 s later it is started again on the same port. The same
RTCPeerConnection must show frames again within 3 s of the camera's `ready`, ICE must still
be connected at the end, and the daemon must not have ended the session before the
client's DELETE. RTP sequence numbers and timestamps continue across the reconnect (the
camera's timeline is continuous), so the browser sees a pause, not a new stream.

Labelled "realtime" (tests/CMakeLists.txt), like the playback test.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

WATCH = 30
KILL_AT = 6
OFFLINE = 10
RESUME_WITHIN = 3.0
PLAYER = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_play.mjs")


class WebRTCCameraLossTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-camera-loss")
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        config = wh.write_config(os.path.join(cls.wd, "cameras.yaml"),
                                 [h.camera("cam1", url)], cls.udp_port)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        oh.wait_playlist(cls.base, "cam1", timeout=h.scaled(30))

    def test_same_session_resumes_after_the_camera_returns(self):
        out_path = os.path.join(self.wd, "whep_play.json")
        with open(out_path, "w") as out:
            node = subprocess.Popen([oh.NODE, PLAYER, "--base", self.base, "--camera", "cam1",
                                     "--seconds", str(WATCH)], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=h.SOURCE_DIR)
        h._register(node)
        try:
            self.daemon.wait_log(r"webrtc camera=cam1 session=\S+ event=connected",
                                 h.scaled(30))
            time.sleep(KILL_AT)
            self.cam.kill()
            time.sleep(OFFLINE)
            self.cam.start()
            back = self.cam.ready_time
            node.wait(timeout=WATCH + 120)
        finally:
            if node.poll() is None:
                node.kill()
        with open(out_path) as f:
            text = f.read()
        import json
        start = text.find("{")
        self.assertGreaterEqual(start, 0, text)
        out = json.loads(text[start:])
        sys.stderr.write(f"WHEP across camera loss: gaps {out.get('gaps')}, "
                         f"{out.get('frames_decoded')} frames decoded, ice {out.get('ice')}, "
                         f"camera back at {back:.3f}\n")
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertEqual(out["ice"], "connected")
        self.assertEqual(out["delete_status"], 200)
        long_gaps = [g for g in out["gaps"] if g["gap_ms"] > 2000]
        self.assertEqual(len(long_gaps), 1, out["gaps"])
        resumed = long_gaps[0]["resumed_wall_ms"] / 1000.0
        self.assertLess(resumed - back, RESUME_WITHIN,
                        f"frames resumed {resumed - back:.2f} s after the camera's return")
        ended = [l for l in self.daemon.log_lines() if "event=ended" in l and "webrtc" in l]
        self.assertEqual(len(ended), 1, ended)  # only the DELETE at the end


    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        # Last: SIGTERM, exit 0, and (under ASan/UBSan) no report, leaks included.
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])

if __name__ == "__main__":
    h.run_tests()
