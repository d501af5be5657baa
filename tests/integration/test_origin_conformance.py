#!/usr/bin/env python3
"""The origin's live output against RFC 8216 and draft-pantos-hls-rfc8216bis-16 (issue 4,
"What it must show" item 1), and camera loss as the origin sees it.

One edgestream process serves the real test camera twice: `cam_ll` (profile `ll`: 1 s
segments, 0.2 s parts, fMP4, blocking reload) and `cam_classic` (profile `ultra-low`: 1 s
MPEG-TS segments). tests/conformance/check.mjs then acts as an LL-HLS client for 20 s and
checks every playlist version it gets (blocking reloads, delta updates, preload-hint parts,
hls-parser strict mode on every text; the rules are listed in that file and docs/origin.md).

Then the camera is killed: a blocking reload for the next part must be answered 503 after
three target durations (draft 6.2.5.2), not hang and not 200; the playlist stays up. When
the camera is back, both streams continue: the media sequence goes on from where it was
(never reset), the first new segment carries EXT-X-DISCONTINUITY, the LL one names a new
init section, and parts flow again.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402

CHECK_SECONDS = 20
TD = 1


class OriginConformanceTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        oh.ensure_conformance_deps()
        cls.wd = h.new_workdir("origin-conformance")
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        config = oh.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera("cam_ll", url, profile="ll"),
            h.camera("cam_classic", url, profile="ultra-low"),
        ])
        cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        oh.wait_playlist(cls.base, "cam_ll", parts=True)
        oh.wait_playlist(cls.base, "cam_classic")


    def test_1_live_output_follows_rfc8216_and_the_ll_hls_draft(self):
        args = ["--base", self.base, "--ll", "cam_ll", "--classic", "cam_classic",
                "--seconds", str(CHECK_SECONDS)]
        if h.SANITIZE:
            args += ["--min-rate", "0.5"]
        rc, out, stdout, stderr = oh.run_node(os.path.join(oh.CONFORMANCE_DIR, "check.mjs"), args,
                                              timeout=CHECK_SECONDS + 120)
        self.assertIsNotNone(out, f"checker printed no JSON:\n{stdout}\n{stderr}")
        sys.stderr.write(
            f"conformance: {out['versions']} LL playlist versions, {out['deltas']} delta updates "
            f"({out['delta_checked']} rebuilt and compared, up to {out['skipped_segments_max']} "
            f"segments skipped), {out['parts_fetched']} hinted parts "
            f"({out['independence_checked']} INDEPENDENT flags checked against the bytes), "
            f"{out['removed_checked']} removed segments fetched in their grace period, "
            f"{out.get('classic_versions')} classic versions; blocking reload waited "
            f"p50 {out['blocking_wait_ms']['p50']} ms / max {out['blocking_wait_ms']['max']} ms; "
            f"PART-TARGET {out['part_target']} s, PART-HOLD-BACK {out['part_hold_back']} s\n")
        h.fail_if(self, out["problems"], "LL-HLS / RFC 8216 conformance")
        self.assertEqual(rc, 0)
        self.assertGreater(out["delta_checked"], 0)
        self.assertGreater(out["skipped_segments_max"], 0)
        self.assertAlmostEqual(out["part_hold_back"], 3 * out["part_target"], places=4)

    def v3(self, body):
        """The origin's classic playlist is the storage sinks' version 3 playlist plus
        EXT-X-SERVER-CONTROL (blocking reload), which harness.parse_playlist does not know,
        with every segment in this run's directory ("<run>/segment_012.ts": names never
        repeat across runs), which is taken off here after it is checked."""
        out = []
        for line in body.decode().splitlines(keepends=True):
            if line.startswith("#EXT-X-SERVER-CONTROL:"):
                continue
            if line.strip() and not line.startswith("#"):
                m = re.match(r"([0-9a-f]{16,24})/(segment_\d+\.ts\s*)$", line)
                self.assertIsNotNone(m, f"classic URI {line!r} is not <run>/segment_N.ts")
                line = m.group(2)
            out.append(line)
        return "".join(out)

    def test_2_camera_loss_blocks_then_503_and_the_sequence_continues(self):
        _, _, body = oh.request(f"{self.base}live/cam_ll/stream.m3u8")
        before = oh.parse_ll(body.decode())
        _, _, cbody = oh.request(f"{self.base}live/cam_classic/stream.m3u8")
        classic_before = h.parse_playlist(self.v3(cbody))
        last_msn = max(before["segments"])
        self.cam.kill()
        time.sleep(h.scaled(1.5))   # whatever was in flight is published
        _, _, body = oh.request(f"{self.base}live/cam_ll/stream.m3u8")
        info = oh.parse_ll(body.decode())
        newest = max(info["segments"])
        seg = info["segments"][newest]
        nxt = (newest, seg["parts"]) if not seg["complete"] else (newest + 1, 0)
        t0 = time.monotonic()
        status, headers, _ = oh.request(
            f"{self.base}live/cam_ll/stream.m3u8?_HLS_msn={nxt[0]}&_HLS_part={nxt[1]}", timeout=20)
        waited = time.monotonic() - t0
        sys.stderr.write(f"camera gone: blocking reload for {nxt} answered {status} after "
                         f"{waited:.2f} s\n")
        self.assertEqual(status, 503)
        self.assertGreaterEqual(waited, 3 * TD - 0.3)
        self.assertLess(waited, 3 * TD + h.scaled(1.5))
        # The playlist itself is still served while the camera is away.
        status, _, _ = oh.request(f"{self.base}live/cam_ll/stream.m3u8")
        self.assertEqual(status, 200)

        self.cam.start()
        def resumed():
            _, _, b = oh.request(f"{self.base}live/cam_ll/stream.m3u8")
            i = oh.parse_ll(b.decode())
            new = [m for m, s in i["segments"].items() if m > newest and s["complete"]]
            return i if len(new) >= 2 else None
        after = h.wait_for(resumed, h.scaled(30), interval=0.3, what="LL segments after return")
        first_new = min(m for m in after["segments"] if m > newest)
        self.assertGreaterEqual(first_new, last_msn + 1, "the media sequence went back")
        self.assertEqual(first_new, newest + 1, "a number was skipped or reused")
        self.assertTrue(after["segments"][first_new]["discontinuity"],
                        "no EXT-X-DISCONTINUITY before the first segment after the camera's return")
        self.assertNotEqual(after["segments"][first_new]["map"], seg["map"],
                            "the new connection's init section is the old one")
        self.assertGreaterEqual(after["msn"], before["msn"])

        def classic_resumed():
            _, _, b = oh.request(f"{self.base}live/cam_classic/stream.m3u8")
            pl = h.parse_playlist(self.v3(b))
            new = [s for s in pl.segments if s.msn > classic_before.last_msn()]
            return (pl, new) if len(new) >= 3 else None
        pl, new = h.wait_for(classic_resumed, h.scaled(30), interval=0.3,
                             what="classic segments after return")
        self.assertGreaterEqual(pl.media_sequence, classic_before.media_sequence)
        self.assertTrue(any(s.discontinuity for s in new),
                        "classic: no EXT-X-DISCONTINUITY after the camera's return")
        # Blocking reload works again.
        _, _, b = oh.request(f"{self.base}live/cam_ll/stream.m3u8")
        i = oh.parse_ll(b.decode())
        m = max(i["segments"])
        s = i["segments"][m]
        nxt = (m, s["parts"]) if not s["complete"] else (m + 1, 0)
        status, _, _ = oh.request(
            f"{self.base}live/cam_ll/stream.m3u8?_HLS_msn={nxt[0]}&_HLS_part={nxt[1]}", timeout=10)
        self.assertEqual(status, 200)

    def test_3_daemon_is_clean_and_stops_cleanly(self):
        h.fail_if(self, self.daemon.error_lines(), "ERROR lines")
        self.assertTrue(self.daemon.alive())
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, "edgestream did not exit cleanly")
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer reports")


if __name__ == "__main__":
    h.run_tests()
