#!/usr/bin/env python3
"""A real browser loses packets, asks for a keyframe, and plays on (issue 12: "RTCP: answer
PLI and FIR by forcing an IDR in transcode mode. In passthrough, wait for the camera's next
keyframe, and after a packet-loss burst drop everything up to it").

Debian's Chromium (tests/webrtc/whep_loss.mjs, one bare RTCPeerConnection) plays a camera
over WHEP from the real daemon. Everything runs in a private network namespace
(netns.py), so the loss is a real one: nftables rules on the loopback's input hook drop
packets the daemon's WebRTC port sends, and neither side is told. STEADY s after the first
frame, a rule drops 25 % of them at random for LOSS s (`numgen random`), then another drops
the last packet of every frame for TAIL_LOSS s (the RTP marker bit, in clear under SRTP),
then both are gone. For each camera:

  - the browser saw the loss and asked for a keyframe: inbound-rtp packetsLost and
    pliCount (+ firCount) grew (the daemon retransmits nothing, so a keyframe is the only
    way back);
  - the daemon heard it: /metrics edgestream_webrtc_keyframe_requests_total rose;
  - the same session plays on, with no reload: within RECOVER_WITHIN s of the loss's end
    frames come with no gap over 0.5 s, and from there Chromium decodes at least 10 of the
    camera's 15 frames a second to the end of the watch;
  - the first frame after the loss is where playback resumed for good (no gap of 1 s after
    it). Losing each frame's last packet makes this bite in passthrough: the receiver can
    count such a loss only when a later packet comes, so the camera's keyframe that ends
    the wait reveals it; the gate used to take that for a new loss and hold the viewer back
    for another GOP (src/webrtc/keyframe_gate.c now judges a report by the sequence
    numbers it covers).

`cam_tx` is transcoded with `segment_duration: 60`, so its keyframe grid puts one IDR at
the camera's first frame and the next a minute later, after this test: every keyframe
Chromium decodes after the loss (keyFramesDecoded) is one the daemon forced because a PLI
asked for it (src/webrtc/session.c request_keyframe, src/transcode/transcode.c). A daemon
that ignored PLI leaves the picture frozen to the end of the watch.

`cam_copy` is passthrough (`transcode: copy`) of a test camera with a 2 s GOP: no IDR can be
forced, so the daemon holds the viewer's video back from the receiver report that shows
a loss (or a PLI) to the camera's next keyframe (keyframe_gate.h). Chromium cannot decode
those frames anyway, so the test judges the gate by the packets it was sent while it could
not decode: well under a third of the rate before the loss (a daemon that sent on would
keep ~90 % of it).

Labelled "realtime" with RUN_SERIAL (tests/CMakeLists.txt), like the other Chromium WebRTC
tests: it judges playback in a browser. It needs what the other netns tests need (unshare,
nft, root) and fails the same way, naming the missing tool, without them.
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402

netns.enter()  # before anything starts: everything below runs in the namespace

import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import webrtc_harness as wh  # noqa: E402

FPS = 15
CAMERA_GOP = 2 * FPS      # es-testcam --gop: the passthrough camera's keyframe every 2 s
STEADY = 4.0              # s of clean playback before the loss
LOSS = 3.0                # s a rule drops LOSS_PERCENT % of the daemon's packets ...
LOSS_PERCENT = 25
TAIL_LOSS = 3.0           # ... then the last packet of every frame for this long
AFTER = 9.0               # s watched after the loss
# s from the loss's end to steady frames again. Transcoded: Chromium repeats an unanswered
# PLI every ~3 s (the forced IDR can itself be lost); passthrough: the camera's next
# keyframe, or the one after when the rule went mid-keyframe.
RECOVER_WITHIN = 6.0
MIN_FPS_AFTER = 10        # of the camera's 15, from the recovery to the end of the watch
SCRIPT = os.path.join(h.SOURCE_DIR, "tests", "webrtc", "whep_loss.mjs")
PLAYWRIGHT = os.path.join(h.SOURCE_DIR, "web", "node_modules", "playwright-core")


def metric(base, name):
    _, _, body = wh.request(f"{base}metrics")
    m = re.search(rf"^{re.escape(name)} (\d+)$", body.decode(), re.M)
    return int(m.group(1)) if m else None


def drop_from(udp_sport, which):
    """Drops UDP packets from this port (the daemon's sends) with a counter that
    netns.dropped() reads; replaces an earlier rule. `which` is an nftables match: a random
    share, or the RTP marker bit (SRTP leaves the header in clear: byte 1's top bit, 72 bits
    into the UDP header, set on the last packet of each frame, RFC 6184 §5.1)."""
    netns.unblock()
    rules = [f"add table inet {netns.TABLE}",
             f"add chain inet {netns.TABLE} input "
             "{ type filter hook input priority 0; policy accept; }",
             f"add rule inet {netns.TABLE} input udp sport {int(udp_sport)} {which} counter drop"]
    subprocess.run([h.require_tool("nft"), "-f", "-"], input="\n".join(rules) + "\n",
                   text=True, check=True, timeout=10)


def at(samples, wall_ms):
    """The last sample at or before wall_ms (the first one when none is)."""
    found = samples[0]
    for s in samples:
        if s["wall_ms"] > wall_ms:
            break
        found = s
    return found


def delta(a, b, key):
    return b[key] - a[key]


class WebRTCLossTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(PLAYWRIGHT):
            raise RuntimeError(f"{PLAYWRIGHT} missing: install the web side (make)")
        h.require_tool("chromium")
        cls.wd = h.new_workdir("webrtc-loss")
        cls.cam = h.TestCam(cls.wd, "testcam", audio=False,
                            extra_args=["--width", "640", "--height", "360", "--fps", str(FPS),
                                        "--gop", str(CAMERA_GOP)])
        url = cls.cam.start()
        cls.udp_port = wh.free_udp_port()
        config = wh.write_config(
            os.path.join(cls.wd, "cameras.yaml"),
            [h.camera("cam_tx", url, target_fps=FPS, segment_duration=60),
             h.camera("cam_copy", url, transcode="copy")], cls.udp_port)
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        cls.daemon.wait_log(r"transcode camera=cam_tx event=encoder_open", h.scaled(30))
        oh.wait_playlist(cls.base, "cam_copy", timeout=h.scaled(30))

    def watch_through_loss(self, camera):
        """Plays `camera` in Chromium; STEADY s after its first frame, drops LOSS_PERCENT %
        of the daemon's media packets for LOSS s, then the last packet of each frame for
        TAIL_LOSS s. Returns (browser result, wall s of the loss start and end, packets nft
        dropped, keyframe requests before and after)."""
        out_path = os.path.join(self.wd, f"whep_loss_{camera}.json")
        with open(out_path, "w") as out:
            node = subprocess.Popen(
                [oh.NODE, SCRIPT, "--base", self.base, "--camera", camera,
                 "--seconds", str(STEADY + LOSS + TAIL_LOSS + AFTER)],
                stdout=out, stderr=subprocess.STDOUT, cwd=h.SOURCE_DIR)
        h._register(node)
        try:
            def first_frame():
                with open(out_path) as f:
                    m = re.search(r"^first_frame (\d+)$", f.read(), re.M)
                if node.poll() is not None and not m:
                    raise AssertionError(f"browser ended before a frame: {f.name}")
                return int(m.group(1)) / 1000.0 if m else None
            shown = h.wait_for(first_frame, h.scaled(40), interval=0.05,
                               what=f"Chromium's first frame of {camera}")
            time.sleep(max(0.0, shown + STEADY - time.time()))
            requests_before = metric(self.base, "edgestream_webrtc_keyframe_requests_total")
            loss_start = time.time()
            drop_from(self.udp_port, f"numgen random mod 100 < {LOSS_PERCENT}")
            try:
                time.sleep(LOSS)
                drops = netns.dropped().get(("udp", self.udp_port), 0)
                drop_from(self.udp_port, "@th,72,1 1")
                time.sleep(TAIL_LOSS)
                drops += netns.dropped().get(("udp", self.udp_port), 0)
            finally:
                netns.unblock()
            loss_end = time.time()
            node.wait(timeout=AFTER + 90)
            requests_after = metric(self.base, "edgestream_webrtc_keyframe_requests_total")
        finally:
            if node.poll() is None:
                node.kill()
        with open(out_path) as f:
            text = f.read()
        out = h.printed_json(text)
        self.assertIsNotNone(out, text)
        self.assertTrue(out.get("ok"), out.get("error"))
        self.assertTrue(out.get("samples"), out)
        return out, loss_start, loss_end, drops, requests_before, requests_after

    def check(self, camera):
        out, loss_start, loss_end, drops, req_before, req_after = self.watch_through_loss(camera)
        samples = out["samples"]
        s_start = at(samples, loss_start * 1000)
        s_last = samples[-1]
        frames = out["frame_wall_ms"]
        # Recovered: the first frame presented after the loss from which no gap is longer
        # than half a second to the end of the watch.
        after_loss = [t for t in frames if t >= loss_end * 1000]
        recovered_ms = None
        for i, t in enumerate(after_loss):
            if all(b - a <= 500 for a, b in zip(after_loss[i:], after_loss[i + 1:])):
                recovered_ms = t
                break
        # Once Chromium shows a frame after the loss, it goes on: the longest gap from there.
        gap_after_first_ms = max((b - a for a, b in zip(after_loss, after_loss[1:])), default=None)
        s_recovered = at(samples, recovered_ms) if recovered_ms else s_last
        seconds_after = (s_last["wall_ms"] - s_recovered["wall_ms"]) / 1000.0
        fps_after = (delta(s_recovered, s_last, "frames_decoded") / seconds_after
                     if seconds_after > 0 else 0.0)
        seconds_before = max(0.1, (s_start["wall_ms"] - samples[0]["wall_ms"]) / 1000.0)
        # Packets a second while Chromium could not decode (sample steps from the loss to
        # the recovery in which framesDecoded stood still), against those before the loss.
        stalled_s = stalled_packets = 0
        for a, b in zip(samples, samples[1:]):
            if a["wall_ms"] >= s_start["wall_ms"] and b["wall_ms"] <= s_recovered["wall_ms"] \
                    and b["frames_decoded"] == a["frames_decoded"]:
                stalled_s += (b["wall_ms"] - a["wall_ms"]) / 1000.0
                stalled_packets += delta(a, b, "packets_received")
        figures = {
            "nft_dropped": drops,
            "packets_lost": delta(s_start, s_last, "packets_lost"),
            "pli": delta(s_start, s_last, "pli"), "fir": delta(s_start, s_last, "fir"),
            "nack": delta(s_start, s_last, "nack"),
            "keyframe_requests": (req_after or 0) - (req_before or 0),
            "keyframes_decoded_before_loss": s_start["key_frames_decoded"],
            "keyframes_decoded_since_loss": delta(s_start, s_last, "key_frames_decoded"),
            "fps_before": round(delta(samples[0], s_start, "frames_decoded") / seconds_before, 1),
            "first_frame_after_loss_s": (round(after_loss[0] / 1000.0 - loss_end, 2)
                                         if after_loss else None),
            "recovered_after_loss_s": (round(recovered_ms / 1000.0 - loss_end, 2)
                                       if recovered_ms else None),
            "longest_gap_after_first_frame_ms": gap_after_first_ms,
            "fps_after": round(fps_after, 1), "fps_after_over_s": round(seconds_after, 1),
            "packets_per_s_before": round(delta(samples[0], s_start, "packets_received")
                                          / seconds_before),
            "packets_per_s_stalled": round(stalled_packets / stalled_s) if stalled_s else None,
            "stalled_s": round(stalled_s, 1),
        }
        sys.stderr.write(f"{camera}: {LOSS_PERCENT} % of the daemon's packets dropped for "
                         f"{LOSS} s, then each frame's last for {TAIL_LOSS} s: {figures}; load "
                         f"{os.getloadavg()[0]:.1f}\n")
        self.assertEqual(out["ice"], "connected", out["events"])
        self.assertEqual(out["delete_status"], 200)
        self.assertGreater(drops, 0, "the nftables rule dropped nothing")
        self.assertGreater(figures["packets_lost"], 0, figures)
        self.assertGreater(figures["pli"] + figures["fir"], 0, figures)
        self.assertIsNotNone(req_before, "no edgestream_webrtc_keyframe_requests_total")
        self.assertGreater(figures["keyframe_requests"], 0, figures)
        # The same session plays on: within RECOVER_WITHIN s of the loss's end, and then at
        # the camera's rate for the rest of the watch (AFTER - RECOVER_WITHIN s at least).
        self.assertIsNotNone(figures["recovered_after_loss_s"], figures)
        self.assertLess(figures["recovered_after_loss_s"], RECOVER_WITHIN, figures)
        self.assertGreaterEqual(fps_after, MIN_FPS_AFTER, figures)
        # The first frame after the loss is where playback resumed for good: nothing sent
        # after the keyframe it came from was held back again (keyframe_gate.h: a loss that
        # keyframe revealed, of packets sent before it, is not a new one).
        self.assertLess(gap_after_first_ms, 1000, figures)
        # One session from the POST to the DELETE: the daemon ended none before.
        ended = [l for l in self.daemon.log_lines()
                 if re.search(rf"webrtc camera={camera} session=\S+ event=ended", l)]
        self.assertEqual(len(ended), 1, ended)
        self.assertIn("reason=delete", ended[0])
        return out, figures

    def test_1_transcoded_camera_forces_an_idr_for_each_pli(self):
        out, figures = self.check("cam_tx")
        # The grid's next IDR is a minute away: each keyframe since the loss was forced.
        self.assertGreater(figures["keyframes_decoded_since_loss"], 0, figures)

    def test_2_passthrough_camera_waits_for_its_next_keyframe(self):
        out, figures = self.check("cam_copy")
        # While Chromium could not decode, the daemon held the video back: the stall saw
        # the camera's keyframes (each cut by the loss) and little else, where a daemon
        # that sent on would have kept the rate of before the loss, less what nft dropped.
        self.assertGreater(figures["stalled_s"], 0, figures)
        self.assertLess(figures["packets_per_s_stalled"], 0.3 * figures["packets_per_s_before"],
                        figures)

    def test_z_daemon_stops_cleanly_without_sanitizer_reports(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])


if __name__ == "__main__":
    h.run_tests()
