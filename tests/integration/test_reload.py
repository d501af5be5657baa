"""Reload without a gap (SIGHUP, `systemctl reload`; src/app/app.c, docs/operations.md).

A daemon streams three cameras, each from its own es-testcam (which logs one
"session <id> play <path>" line per RTSP PLAY), to local storage and its origin, with
NOTIFY_SOCKET set. The config is then rewritten: `keep` untouched, `change` with another
segments_to_keep, `gone` removed, `new` added (on gone's test camera). After SIGHUP:

- keep's playlist on disk, polled every 50 ms from before the reload to well after it,
  never shows a discontinuity nor a gap in its media sequence, and its test camera saw one
  RTSP session (one PLAY) in all; the daemon logged one connect for it;
- gone's last playlist names only files that exist, and stays as it was; the origin
  answers 404 for it (playlist and WHEP);
- change's sequence continues (first new msn = last old msn + 1) with a discontinuity;
- new (an LL-HLS camera) produces segments, on disk and on the origin;
- the origin, asked for every playlist and /api/cameras all along, answers each request
  (404 for a camera that is not there);
- origin.max_connections, also changed, is named as needing a restart (WARN);
- systemd hears RELOADING=1 (with MONOTONIC_USEC), then READY=1.

Then a config with a YAML syntax error is sent by SIGHUP: the log names it as
file:line:column, nothing restarts, keep still has its one session and streams on. Six
reloads back to back then remove and add `new` three times: only `new` moves.
SIGTERM ends the run with status 0 (and, under ES_SANITIZE, no sanitizer report)."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness as h

CAM_ARGS = ["--width", "320", "--height", "240", "--fps", "15", "--gop", "15",
            "--bitrate", "300"]
WEBRTC_TCP = False  # set in setUpClass: whether origin.webrtc.tcp_port exists
SETTINGS = {"transcode": "copy", "segment_duration": 1, "segments_to_keep": 5,
            "audio": "off"}
# The added camera is LL-HLS on the origin (fMP4 parts): that path joins and leaves too.
LL_SETTINGS = {"profile": "ll", "transcode": "copy", "audio": "off"}


def udp_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def knows_option(name):
    """Whether this edgestream's configuration reference lists `name`."""
    out = subprocess.run([h.edgestream_binary(), "--help-config"], capture_output=True,
                         text=True, timeout=30).stdout
    return f"`{name}`" in out


def config_text(root, http_port, udp_port, cameras, max_connections=4096):
    # WebRTC on (its cameras follow reloads too), on ports of this test's own.
    lines = ["# written by tests/integration/test_reload.py",
             "storage:", "  - backend: local", f'    root: "{root}"',
             "origin:", f'  listen: "127.0.0.1:{http_port}"',
             f"  max_connections: {max_connections}",
             "  webrtc:", f"    udp_port: {udp_port}"]
    if WEBRTC_TCP:
        lines.append("    tcp_port: 0")
    lines.append("cameras:")
    for cam_id, url, settings in cameras:
        lines += [f'  - id: "{cam_id}"', f'    rtsp_url: "{url}"', "    settings:"]
        lines += [f"      {k}: {h._yaml_scalar(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


class PlaylistPoller(threading.Thread):
    """Reads one camera's playlist on disk every 50 ms and keeps each distinct version."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.versions = []          # (time.monotonic(), Playlist)
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        last = None
        while not self.stopping.is_set():
            try:
                with open(self.path) as f:
                    text = f.read()
            except FileNotFoundError:
                text = None
            if text and text != last:
                last = text
                try:
                    self.versions.append((time.monotonic(), h.parse_playlist(text)))
                except h.PlaylistError as e:
                    self.errors.append(f"{e}: {text!r}")
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)

    def segments(self, since=None):
        """Every segment seen (by msn), in versions polled at or after `since`."""
        seen = {}
        for t, pl in list(self.versions):
            if since is not None and t < since:
                continue
            for s in pl.segments:
                seen.setdefault(s.msn, s)
        return seen

    def last_msn(self):
        return max(self.segments(), default=-1)


class Listener:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self.messages.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


def http_status(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class OriginReader(threading.Thread):
    """Asks the origin for every camera's playlist and /api/cameras all along, so that a
    camera leaving or joining meets requests in flight (under ES_SANITIZE, races show)."""

    def __init__(self, port, names):
        super().__init__(daemon=True)
        self.base = f"http://127.0.0.1:{port}"
        self.names = names
        self.statuses = {}          # path -> {status: count}
        self.failures = []
        self.stopping = threading.Event()

    def run(self):
        paths = ["/api/cameras"] + [f"/live/{n}/stream.m3u8" for n in self.names]
        while not self.stopping.is_set():
            for path in paths:
                try:
                    with urllib.request.urlopen(self.base + path, timeout=10) as r:
                        status = r.status
                        r.read()
                except urllib.error.HTTPError as e:
                    status = e.code
                except (OSError, urllib.error.URLError) as e:
                    self.failures.append(f"{path}: {e}")
                    status = None
                counts = self.statuses.setdefault(path, {})
                counts[status] = counts.get(status, 0) + 1
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.join(timeout=15)


class ReloadTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        global WEBRTC_TCP
        WEBRTC_TCP = knows_option("tcp_port")
        cls.wd = h.new_workdir("reload")
        cls.root = os.path.join(cls.wd, "streams")
        cls.cams = {}
        for name in ("keep", "change", "gone"):
            cam = h.TestCam(cls.wd, label=f"testcam-{name}", path=f"/{name}", audio=False,
                            extra_args=CAM_ARGS)
            cam.start()
            cls.cams[name] = cam
        cls.http_port = h.free_port()
        cls.udp_port = udp_free_port()
        cls.config = os.path.join(cls.wd, "cameras.yaml")
        cls.write([("keep", cls.cams["keep"].url, SETTINGS),
                   ("change", cls.cams["change"].url, SETTINGS),
                   ("gone", cls.cams["gone"].url, SETTINGS)])
        cls.notify = Listener(os.path.join(cls.wd, "notify.sock"))
        os.environ["NOTIFY_SOCKET"] = os.path.join(cls.wd, "notify.sock")
        try:
            cls.daemon = h.Daemon(cls.wd, ["--config", cls.config, "--all", "--quiet"])
            cls.daemon.start()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        cls.reader = OriginReader(cls.http_port, ["keep", "change", "gone", "new"])
        cls.pollers = {}
        for name in ("keep", "change", "gone", "new"):
            p = PlaylistPoller(os.path.join(cls.root, "location_1", name, "stream.m3u8"))
            p.start()
            cls.pollers[name] = p
        try:
            cls.run_scenario()
        except Exception:
            cls.failed = True
            h.print_logs()
            raise

    @classmethod
    def write(cls, cameras, **origin):
        text = config_text(cls.root, cls.http_port, cls.udp_port, cameras, **origin)
        tmp = cls.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, cls.config)

    @classmethod
    def run_scenario(cls):
        d, pollers = cls.daemon, cls.pollers
        budget = h.scaled(20)
        for name in ("keep", "change", "gone"):
            h.wait_for(lambda n=name: len(pollers[n].segments()) >= 3 or not d.alive(), budget,
                       what=f"3 segments of {name} before the reload")
        if not d.alive():
            raise RuntimeError(f"edgestream exited with {d.returncode()}")
        cls.reader.start()
        cls.sessions_before = cls.cams["keep"].sessions()
        cls.change_last_before = pollers["change"].last_msn()
        cls.gone_dir = os.path.join(cls.root, "location_1", "gone")

        changed = dict(SETTINGS, segments_to_keep=6)
        cls.write([("keep", cls.cams["keep"].url, SETTINGS),
                   ("change", cls.cams["change"].url, changed),
                   ("new", cls.cams["gone"].url, LL_SETTINGS)], max_connections=1000)
        cls.reload_line = len(d.log_lines())
        cls.reload_time = time.monotonic()
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"event=reloaded ", h.scaled(20), after_line=cls.reload_line)
        # The removed camera's thread has ended: this is its final playlist.
        with open(os.path.join(cls.gone_dir, "stream.m3u8")) as f:
            cls.gone_after_reload = h.parse_playlist(f.read())
        keep_at_reload = pollers["keep"].last_msn()
        h.wait_for(lambda: len(pollers["new"].segments()) >= 3, budget,
                   what="3 segments of the added camera")
        h.wait_for(lambda: pollers["change"].last_msn() >= cls.change_last_before + 3, budget,
                   what="3 new segments of the changed camera")
        h.wait_for(lambda: pollers["keep"].last_msn() >= keep_at_reload + 4, budget,
                   what="4 more segments of the untouched camera")
        cls.origin_new = http_status(f"http://127.0.0.1:{cls.http_port}/live/new/stream.m3u8")
        cls.origin_gone = http_status(f"http://127.0.0.1:{cls.http_port}/live/gone/stream.m3u8")
        cls.origin_keep = http_status(f"http://127.0.0.1:{cls.http_port}/live/keep/stream.m3u8")
        # WHEP: an offer that does not parse is refused (400) for a listed camera; a removed
        # camera is not there at all (404), though WebRTC keeps its entry.
        cls.whep = {n: http_status(f"http://127.0.0.1:{cls.http_port}/whep/{n}",
                                   data=b"v=0\r\n",
                                   headers={"Content-Type": "application/sdp"})[0]
                    for n in ("keep", "new", "gone")}
        cls.gone_files_later = sorted(os.listdir(cls.gone_dir))
        with open(os.path.join(cls.gone_dir, "stream.m3u8")) as f:
            cls.gone_playlist_later = f.read()

        # A config that does not parse changes nothing.
        with open(cls.config, "w") as f:
            f.write("cameras:\n  - id: keep\n    rtsp_url: [unclosed\n")
        cls.broken_line = len(d.log_lines())
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log(r"event=reload_failed", h.scaled(20), after_line=cls.broken_line)
        keep_at_broken = pollers["keep"].last_msn()
        new_at_broken = pollers["new"].last_msn()
        h.wait_for(lambda: pollers["keep"].last_msn() >= keep_at_broken + 2
                   and pollers["new"].last_msn() >= new_at_broken + 2, budget,
                   what="2 more segments of keep and new after the broken config")
        cls.sessions_after = cls.cams["keep"].sessions()

        # Reloads back to back: `new` leaves and comes back three times while the origin
        # is asked for it all along; the others stay untouched through all of them.
        cls.flap_line = len(d.log_lines())
        cls.notify_before_flap = len(cls.notify.messages)
        cls.gone_cam_sessions = cls.cams["gone"].sessions()
        cls.flap_summaries = []
        for i in range(6):
            cams = [("keep", cls.cams["keep"].url, SETTINGS),
                    ("change", cls.cams["change"].url, changed)]
            if i % 2:
                cams.append(("new", cls.cams["gone"].url, LL_SETTINGS))
            cls.write(cams, max_connections=1000)
            mark = len(d.log_lines())
            os.kill(d.pid, signal.SIGHUP)
            _, line, _ = d.wait_log(r"event=reloaded ", h.scaled(20), after_line=mark)
            cls.flap_summaries.append(h.parse_log_line(line)[3])
        keep_at_flap = pollers["keep"].last_msn()
        h.wait_for(lambda: pollers["keep"].last_msn() >= keep_at_flap + 2, budget,
                   what="2 more segments of keep after the back-to-back reloads")
        cls.sessions_end = cls.cams["keep"].sessions()
        cls.reader.stop()
        for p in pollers.values():
            p.stop()
        cls.status = d.stop()
        cls.notify.close()

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "pollers", {}).values():
            p.stop()
        if getattr(cls, "reader", None) and cls.reader.is_alive():
            cls.reader.stop()
        if getattr(cls, "daemon", None):
            cls.daemon.stop()
        for cam in getattr(cls, "cams", {}).values():
            cam.stop()
        if getattr(cls, "notify", None):
            cls.notify.close()
        h.remove_workdir(cls.wd, cls.failed)

    def test_untouched_camera_has_no_discontinuity_and_no_gap(self):
        p = self.pollers["keep"]
        self.assertEqual(p.errors, [])
        seen = p.segments()
        msns = sorted(seen)
        self.assertEqual(msns, list(range(msns[0], msns[-1] + 1)),
                         "a gap in the untouched camera's media sequence")
        self.assertEqual([m for m in msns if seen[m].discontinuity], [],
                         "a discontinuity in the untouched camera's playlist")
        after = [m for m in msns if m in p.segments(since=self.reload_time)]
        self.assertGreaterEqual(len(after), 4)
        versions = [pl for _, pl in p.versions]
        for old, new in zip(versions, versions[1:]):
            self.assertEqual(h.check_playlist_update(old, new), [])

    def test_untouched_camera_keeps_its_rtsp_session(self):
        self.assertEqual(len(self.sessions_before), 1, self.sessions_before)
        self.assertEqual(self.sessions_after, self.sessions_before)
        connects = [l for l in self.daemon.log_lines()
                    if "camera=keep " in l and "event=connected" in l]
        self.assertEqual(len(connects), 1, connects)

    def test_removed_camera_leaves_a_consistent_final_playlist(self):
        final = h.parse_playlist(self.gone_playlist_later)
        self.assertGreaterEqual(len(final.segments), 3)
        for s in final.segments:
            self.assertIn(s.uri, self.gone_files_later, f"{s.uri} named but missing")
        self.assertIsNotNone(self.gone_after_reload)
        self.assertEqual(final.text, self.gone_after_reload.text,
                         "the removed camera's playlist changed after the reload")
        self.assertEqual(self.origin_gone[0], 404)
        self.assertEqual(self.whep, {"keep": 400, "new": 400, "gone": 404})
        self.assertTrue(any("camera=gone event=reload_remove" in l
                            for l in self.daemon.log_lines()))

    def test_changed_camera_continues_its_sequence_after_a_discontinuity(self):
        seen = self.pollers["change"].segments()
        resumed = [h.parse_log_line(l)[3] for l in self.daemon.log_lines()[self.reload_line:]
                   if "camera=change event=resume " in l]
        self.assertEqual(len(resumed), 1, resumed)
        first_new = int(resumed[0]["next_msn"])
        self.assertGreater(first_new, self.change_last_before)
        msns = sorted(seen)
        self.assertEqual(msns, list(range(msns[0], msns[-1] + 1)),
                         "a gap in the changed camera's media sequence")
        self.assertIn(first_new, seen, f"msn {first_new} never appeared: {msns}")
        self.assertTrue(seen[first_new].discontinuity,
                        f"msn {first_new} after the restart carries no discontinuity")
        self.assertEqual([m for m in seen if m != first_new and seen[m].discontinuity], [])
        versions = [pl for _, pl in self.pollers["change"].versions]
        for old, new in zip(versions, versions[1:]):
            self.assertEqual(h.check_playlist_update(old, new), [])
        self.assertTrue(any("camera=change event=reload_restart key=segments_to_keep" in l
                            for l in self.daemon.log_lines()))

    def test_added_camera_streams(self):
        self.assertGreaterEqual(len(self.pollers["new"].segments()), 3)
        self.assertEqual(self.origin_new[0], 200)
        self.assertIn(b"#EXTINF", self.origin_new[1])
        self.assertIn(b"#EXT-X-PART:", self.origin_new[1])  # LL-HLS on the origin
        self.assertEqual(self.origin_keep[0], 200)
        # gone's test camera now serves `new`: one session for each.
        paths = [p for _, p in self.gone_cam_sessions]
        self.assertEqual(paths, ["/gone", "/gone"], paths)

    def test_reload_is_summarised_and_told_to_systemd(self):
        line = next(l for l in self.daemon.log_lines()[self.reload_line:]
                    if "event=reloaded " in l)
        fields = h.parse_log_line(line)[3]
        self.assertEqual((fields["kept"], fields["restarted"], fields["added"], fields["removed"]),
                         ("1", "1", "1", "1"), line)
        self.assertEqual(fields["needs_restart"], "1", line)
        text = "\n".join(self.notify.messages)
        self.assertRegex(text, r"RELOADING=1\nMONOTONIC_USEC=\d+")
        reloading = [i for i, m in enumerate(self.notify.messages) if "RELOADING=1" in m]
        ready = [i for i, m in enumerate(self.notify.messages) if "READY=1" in m]
        # The good and the broken one, then the six back to back.
        self.assertEqual(len([i for i in reloading if i < self.notify_before_flap]), 2,
                         self.notify.messages)
        self.assertEqual(len(reloading), 8, self.notify.messages)
        self.assertTrue(all(any(r > i for r in ready) for i in reloading),
                        "READY=1 after each RELOADING=1")

    def test_an_origin_setting_is_named_as_needing_a_restart(self):
        lines = [l for l in self.daemon.log_lines()[self.reload_line:self.broken_line]
                 if "event=reload_needs_restart" in l]
        self.assertEqual(len(lines), 1, lines)
        level, fields = h.parse_log_line(lines[0])[1], h.parse_log_line(lines[0])[3]
        self.assertEqual((level, fields["key"]), ("WARN", "origin.max_connections"))
        # The running value stays: the origin answered on its port all along.
        self.assertEqual(self.origin_keep[0], 200)

    def test_broken_config_changes_nothing_and_names_where(self):
        lines = self.daemon.log_lines()[self.broken_line:self.flap_line]
        where = [l for l in lines if re.search(re.escape(self.config) + r":\d+:\d+:", l)]
        self.assertTrue(where, "no file:line:column in the log:\n" + "\n".join(lines))
        self.assertEqual([l for l in lines if "event=reload_start" in l
                          or "event=reload_remove" in l or "event=connected" in l], [])
        self.assertEqual(self.sessions_after, self.sessions_before)

    def test_back_to_back_reloads_touch_only_what_changed(self):
        got = [(f["kept"], f["added"], f["removed"], f["restarted"])
               for f in self.flap_summaries]
        self.assertEqual(got, [("2", "0", "1", "0"), ("2", "1", "0", "0")] * 3)
        self.assertEqual(self.sessions_end, self.sessions_before)
        lines = self.daemon.log_lines()[self.flap_line:]
        self.assertEqual([l for l in lines if ("camera=keep " in l or "camera=change " in l)
                          and ("event=reload" in l or "event=connected" in l)], [])

    def test_origin_answers_throughout(self):
        st = self.reader.statuses
        self.assertEqual(self.reader.failures, [])
        self.assertEqual(set(st["/api/cameras"]), {200}, st)
        self.assertEqual(set(st["/live/keep/stream.m3u8"]), {200}, st)
        # A camera that leaves: 200 until then, 404 after (503 for a request parked at
        # that moment); one that joins: 404, then 200.
        self.assertLessEqual(set(st["/live/gone/stream.m3u8"]), {200, 404, 503}, st)
        self.assertIn(404, st["/live/gone/stream.m3u8"], st)
        self.assertLessEqual(set(st["/live/new/stream.m3u8"]), {200, 404, 503}, st)
        self.assertIn(200, st["/live/new/stream.m3u8"], st)

    def test_daemon_stops_cleanly(self):
        self.assertEqual(self.status, 0)
        self.assertEqual(self.daemon.sanitizer_reports(), [])
        self.assertEqual(self.daemon.error_lines(), [])


if __name__ == "__main__":
    unittest.main()
