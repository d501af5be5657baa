#!/usr/bin/env python3
"""A box that boots while the internet is down streams locally at once (issue 13).

Tried as a new user would, with SUPABASE_URL pointing at a store that cannot be reached,
each camera, the origin and the local sink used to wait ~9.4 s (the uploader's reading of
the stored playlist blocked the start), and the media sequence then jumped to ~1.8e10 (a
number made from the wall clock so that no name could be reused).

Two daemons, each with two cameras (one es-testcam), `storage: [local, supabase]` and the
origin on, started against a store that is:
  - closed: a loopback port nobody listens on (connection refused at once);
  - blackholed: a listening socket that never accepts or answers (requests stall).

Proves, for each:
  - the origin listens, and the first local segment and the origin's first playlist of
    every camera appear within START_BOUND seconds of the start (generous: segments are
    2 s; the old start took 9.4 s before the first connect);
  - nothing waits for the store: the origin logs `listening` before any camera logs
    `store_not_read_at_start` (measured: listening after 0.06 s, first playlists after
    2.2-2.4 s; with the 1.5 s wait of before, 1.6 s and 4.0 s);
  - every segment number (local files, origin playlist, daemon log) is small: the run
    starts from 0 (empty workdir), no jump;
  - when the Supabase emulator comes up later on that port, the remote sink catches up
    by itself: the public playlist appears and reaches the local live edge, with the
    same numbers as the local sink and the same bytes under the same names;
  - the key appears in no log.
And a store that holds an earlier run's higher numbers (the box lost its directory) and is
unreachable at start: the camera starts from 0 at once; once the store answers, its names
continue right after the stored ones (one offset; no stored name rewritten), with a
discontinuity at the join, while the local sink keeps the camera's numbers.
"""

import hashlib
import os
import re
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402
import storage_harness as sh  # noqa: E402

CAMS = ["cam_a", "cam_b"]
SEGMENT = 2
KEEP = 5
START_BOUND = 8.0
SANE_MSN = 1000
DOWN_FOR = 8.0


def local_playlist(root, cam):
    path = os.path.join(root, "location_1", cam, "stream.m3u8")
    try:
        with open(path) as f:
            return h.parse_playlist(f.read())
    except (OSError, h.PlaylistError):
        return None


class OriginPlaylist:
    """MEDIA-SEQUENCE and segment count of an origin playlist (it has LL-HLS tags such as
    EXT-X-SERVER-CONTROL that harness.parse_playlist, strictly version 3, refuses)."""

    def __init__(self, text):
        m = re.search(r"^#EXT-X-MEDIA-SEQUENCE:(\d+)$", text, re.M)
        self.media_sequence = int(m.group(1)) if m else None
        self.segments = re.findall(r"^[^#\s]\S*segment_\d+\.ts$", text, re.M)

    def last_msn(self):
        return self.media_sequence + len(self.segments) - 1


def origin_playlist(base, cam):
    status, _, body = oh.request(f"{base}live/{cam}/stream.m3u8", timeout=5)
    if status != 200:
        return None
    pl = OriginPlaylist(body.decode(errors="replace"))
    return pl if pl.media_sequence is not None else None


def public_playlist(emu, cam):
    try:
        with urllib.request.urlopen(emu.public_url(f"location_1/{cam}/stream.m3u8"),
                                    timeout=5) as r:
            return h.parse_playlist(r.read().decode())
    except Exception:
        return None


class Blackhole:
    """A listening socket that never accepts: connects complete (the kernel's backlog),
    requests are never answered."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class OfflineStartTest(h.LiveTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("offline-start")
        cls.key = sh.new_key()
        cls.cam = h.TestCam(cls.wd, "testcam")
        cls.url = cls.cam.start()
        cls.results = {}

    @classmethod
    def tearDownClass(cls):
        h.kill_all_started()
        h.remove_workdir(cls.wd, cls.failed)

    def _scenario(self, label, port, before_emulator=None):
        root = os.path.join(self.wd, f"root-{label}")
        config = os.path.join(self.wd, f"{label}.yaml")
        sh.storage_config(config, [
            h.camera(c, self.url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     transcode="copy") for c in CAMS], [
            {"backend": "local", "root": root},
            {"backend": "supabase", "url": f"http://127.0.0.1:{port}", "connect_timeout_ms": 3000,
             "stall_timeout_ms": 2000, "retry_max_ms": 1000, "heartbeat_s": 5},
        ])
        # The origin on a free port, WebRTC off (its fixed UDP port could collide).
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("\ncameras:\n", "\norigin:\n  listen: \"127.0.0.1:0\"\n"
                                 "  webrtc:\n    enabled: false\ncameras:\n"))
        os.environ["SUPABASE_KEY"] = self.key
        try:
            daemon = h.Daemon(self.wd, ["--config", config, "--all", "--quiet"],
                              label=f"edgestream-{label}")
            t0 = time.monotonic()
            daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        base = oh.origin_base(daemon, START_BOUND + 5)
        t_listen = time.monotonic() - t0

        firsts = {}

        def all_started():
            for c in CAMS:
                if not daemon.alive():
                    raise AssertionError(f"edgestream exited with {daemon.returncode()}")
                if (c, "local") not in firsts:
                    pl = local_playlist(root, c)
                    if pl and pl.segments:
                        firsts[(c, "local")] = (time.monotonic() - t0, pl)
                if (c, "origin") not in firsts:
                    pl = origin_playlist(base, c)
                    if pl and pl.segments:
                        firsts[(c, "origin")] = (time.monotonic() - t0, pl)
            return len(firsts) == 2 * len(CAMS)

        h.wait_for(all_started, h.scaled(30), interval=0.1, what="every camera's first segment")
        report = [f"{label}: origin listening after {t_listen:.2f} s"]
        for (c, where), (t, pl) in sorted(firsts.items()):
            report.append(f"  {c} first {where} playlist after {t:.2f} s: media sequence "
                          f"{pl.media_sequence}, last {pl.last_msn()}")

        # The store stays away a while longer; the local sink streams on.
        time.sleep(DOWN_FOR)
        local_before = {c: local_playlist(root, c).last_msn() for c in CAMS}
        report.append(f"  after {DOWN_FOR:.0f} s more without the store: local last msn "
                      f"{local_before}")
        if before_emulator:
            before_emulator()
        # The store comes up on the same port: uploads catch up by themselves.
        emu = sh.Emulator(self.wd, self.key, label=f"emulator-{label}",
                          extra_args=["--port", str(port)])
        emu.start()
        t_up = time.monotonic()

        def caught_up():
            for c in CAMS:
                remote, local = public_playlist(emu, c), local_playlist(root, c)
                if not remote or not local or remote.last_msn() < local.last_msn() - 1:
                    return False
            return True

        h.wait_for(caught_up, h.scaled(30), interval=0.2, what="the public playlists catching up")
        report.append(f"  store up: public playlists at the local live edge after "
                      f"{time.monotonic() - t_up:.1f} s")
        # Same names, same bytes, wherever both still hold a segment.
        compared = 0
        objects = {o["name"]: o for o in emu.objects()}
        for c in CAMS:
            remote = public_playlist(emu, c)
            for s in remote.segments:
                path = os.path.join(root, "location_1", c, s.uri)
                try:
                    with open(path, "rb") as f:
                        local_sha = hashlib.sha256(f.read()).hexdigest()
                except OSError:
                    continue
                with urllib.request.urlopen(emu.public_url(f"location_1/{c}/{s.uri}"),
                                            timeout=5) as r:
                    self.assertEqual(hashlib.sha256(r.read()).hexdigest(), local_sha,
                                     f"{c}/{s.uri}: the store and the local sink differ")
                compared += 1
        report.append(f"  {compared} segments compared byte for byte, local vs store")
        msns = [int(m) for m in re.findall(r"segment_(\d+)\.ts", " ".join(objects))]
        rc = daemon.stop(timeout=h.scaled(15))
        emu.stop()
        sys.stderr.write("\n".join(report) + "\n")
        return {"local_before": local_before, "t_listen": t_listen, "firsts": firsts, "daemon": daemon, "rc": rc,
                "compared": compared, "store_msns": msns, "root": root}

    def _check(self, r):
        self.assertEqual(r["rc"], 0)
        h.fail_if(self, r["daemon"].sanitizer_reports(), "sanitizer")
        self.assertLess(r["t_listen"], START_BOUND, "the origin listened late")
        for (c, where), (t, pl) in r["firsts"].items():
            self.assertLess(t, START_BOUND, f"{c}: first {where} playlist after {t:.1f} s")
            self.assertLess(pl.last_msn(), SANE_MSN, f"{c} {where}: {pl.last_msn()}")
        for c in CAMS:
            pl = local_playlist(r["root"], c)
            self.assertIsNotNone(pl)
            self.assertLess(pl.last_msn(), SANE_MSN)
        for c in CAMS:
            first = r["firsts"][(c, "local")][1].last_msn()
            self.assertGreater(r["local_before"][c], first, f"{c}: the local sink streamed on")
        self.assertTrue(r["store_msns"], "the store got segments")
        self.assertLess(max(r["store_msns"]), SANE_MSN, "segment numbers in the store jumped")
        self.assertGreater(r["compared"], 0, "no segment to compare")
        big = [l for l in r["daemon"].all_log_lines()
               if any(int(n) >= SANE_MSN for n in re.findall(r"(?:msn|next_msn|last_msn)=(\d+)", l))]
        self.assertEqual(big, [], "a sequence number jumped in the log")
        started = sh.log_events(r["daemon"], "store_not_read_at_start")
        self.assertEqual({p[3]["camera"] for p in started}, set(CAMS),
                         "each camera started without the store's answer, and said so")
        # Nothing waits for the store: the origin listened before any camera asked it (the
        # old start asked while making the cameras, then waited up to 1.5 s, then listened).
        events = [h.parse_log_line(l) for l in r["daemon"].all_log_lines()]
        events = [p[3].get("event") for p in events if p]
        self.assertIn("listening", events)
        self.assertLess(events.index("listening"), events.index("store_not_read_at_start"),
                        "the origin listened only after a camera had asked the store")
        self.assertEqual(sh.secrets_in_files(self.wd, [self.key]), [], "the key leaked")

    def test_a_closed_port(self):
        port = h.free_port()
        r = self._scenario("closed", port)
        self._check(r)

    def test_a_blackholed_port(self):
        hole = Blackhole()
        r = self._scenario("blackhole", hole.port, before_emulator=hole.close)
        self._check(r)

    def test_a_store_that_holds_higher_numbers_is_continued_not_overwritten(self):
        """The store holds an earlier run's segments up to 500 (this box's directory was
        lost) and cannot be reached at start: the camera starts from 0 at once, and once
        the store answers its names continue at 501, with a discontinuity at the join;
        the local sink and the origin keep the camera's own small numbers."""
        cam, old_last = "cam_old", 500
        emu = sh.Emulator(self.wd, self.key, label="emulator-old")
        emu.start()
        prefix = f"location_1/{cam}/"
        headers = {"Authorization": f"Bearer {self.key}", "apikey": self.key}

        def put(name, data, ctype):
            req = urllib.request.Request(f"{emu.url}/storage/v1/object/streams/{prefix}{name}",
                                         data=data, method="POST",
                                         headers={**headers, "Content-Type": ctype})
            with urllib.request.urlopen(req, timeout=5) as r:
                self.assertEqual(r.status, 200)

        playlist = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT}",
                    f"#EXT-X-MEDIA-SEQUENCE:{old_last - 2}"]
        for msn in range(old_last - 2, old_last + 1):
            put(f"segment_{msn:03d}.ts", b"\x47" + bytes(187), sh.SEGMENT_TYPE)
            playlist += [f"#EXTINF:{SEGMENT}.000000,", f"segment_{msn:03d}.ts"]
        put("stream.m3u8", ("\n".join(playlist) + "\n").encode(), sh.PLAYLIST_TYPE)
        written_before = len(emu.stats()["write_log"])
        emu.outage(12)   # refused from now on, for 12 s; the objects stay
        time.sleep(0.5)

        root = os.path.join(self.wd, "root-old")
        config = sh.storage_config(os.path.join(self.wd, "old.yaml"), [
            h.camera(cam, self.url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     transcode="copy")], [
            {"backend": "local", "root": root},
            {"backend": "supabase", "url": emu.url, "retry_max_ms": 1000},
        ])
        os.environ["SUPABASE_KEY"] = self.key
        try:
            daemon = h.Daemon(self.wd, ["--config", config, "--all", "--quiet"],
                              label="edgestream-old")
            t0 = time.monotonic()
            daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        first = h.wait_for(lambda: (local_playlist(root, cam) or None) and
                           local_playlist(root, cam).segments and local_playlist(root, cam),
                           h.scaled(30), interval=0.1, what="the first local segment")
        t_first = time.monotonic() - t0

        def continued():
            pl = public_playlist(emu, cam)
            return pl if pl and pl.last_msn() >= old_last + 3 else None

        pl = h.wait_for(continued, h.scaled(40), interval=0.2,
                        what="the public playlist continuing after the stored names")
        local = local_playlist(root, cam)
        rc = daemon.stop(timeout=h.scaled(15))
        names = [o["name"] for o in emu.objects() if o["name"].endswith(".ts")]
        new = sorted(int(re.search(r"segment_(\d+)", n).group(1)) for n in names
                     if int(re.search(r"segment_(\d+)", n).group(1)) > old_last)
        writes = [w["name"] for w in emu.stats()["write_log"][written_before:]
                  if w["name"].endswith(".ts")]
        emu.stop()
        sys.stderr.write(f"old store: first local segment after {t_first:.2f} s (msn "
                         f"{first.last_msn()}); local now {local.media_sequence}..{local.last_msn()}; "
                         f"public {pl.media_sequence}..{pl.last_msn()}; new names in the store "
                         f"{new[:3]}..{new[-1:]}\n")
        self.assertEqual(rc, 0)
        h.fail_if(self, daemon.sanitizer_reports(), "sanitizer")
        self.assertLess(t_first, START_BOUND)
        self.assertLess(local.last_msn(), 100, "the local sink keeps the camera's numbers")
        self.assertEqual(new[0], old_last + 1, "the store's names continue right after 500")
        self.assertEqual(new, list(range(new[0], new[-1] + 1)), "and stay continuous")
        self.assertEqual(len(writes), len(set(writes)), "no segment name written twice")
        self.assertFalse([w for w in writes if int(re.search(r"segment_(\d+)", w).group(1)) <= old_last],
                         "no stored name was written again")
        join = pl.by_msn().get(old_last + 1)
        if join is not None:
            self.assertTrue(join.discontinuity, "EXT-X-DISCONTINUITY at the join")
        self.assertEqual(len(sh.log_events(daemon, "renumbered")), 1)


if __name__ == "__main__":
    h.run_tests()
