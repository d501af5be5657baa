"""The systemd service protocol (sd_notify(3), src/app/service.c): a listener on a unix
datagram socket stands in for systemd as NOTIFY_SOCKET.

With WATCHDOG_USEC=2 s the daemon sends READY=1 (with a STATUS= line) once it streams,
WATCHDOG=1 at least every 2 s while every camera thread and the origin's loop make
progress, and STATUS= with the cameras live, viewers and upload backlog. A camera thread
then made to hang through the test-only fault hook (tests/tools/edgestream_faults.c:
ES_TEST_STALL_CAMERA, ES_TEST_STALL_AFTER; never in the installed program) stops the
pings within one watchdog interval, and the log and STATUS name the stalled thread. SIGTERM
still stops it with STOPPING=1 and exit status 0.

A second run stalls the origin's event loop instead (ES_TEST_STALL_ORIGIN: the first
/api/cameras request holds its thread): the pings stop the same way, naming the origin.

A third run speaks to an abstract-namespace socket ("@name"), and with WATCHDOG_PID naming
another process sends no pings at all (sd_watchdog_enabled(3))."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request

import harness as h

WATCHDOG_S = 2.0
STALL_AFTER_S = 8.0


def faults_binary():
    return h._find_binary("ES_FAULTS_BINARY",
                          [os.path.join(h.SOURCE_DIR, "build", "tests", "es-edgestream-faults")])


class Listener:
    """A unix datagram socket that keeps every message with its arrival time."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages = []          # (time.monotonic(), text)
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def with_field(self, field):
        """(time, value) of every message carrying FIELD=value."""
        out = []
        for t, text in self.snapshot():
            for line in text.split("\n"):
                if line.startswith(field + "="):
                    out.append((t, line[len(field) + 1:]))
        return out


def small_camera(workdir):
    """The RTSP test camera at 320x240, 10 fps, no audio: light enough for two sessions."""
    cam = h.TestCam(workdir, audio=False, extra_args=["--width", "320", "--height", "240",
                                                      "--fps", "10"])
    return cam.start()


def start(workdir, label, env_extra, cameras=2):
    url = small_camera(workdir)
    config = h.write_config(os.path.join(workdir, f"{label}.yaml"), [
        h.camera(f"cam_{i}", url, target_width=320, target_fps=10, segment_duration=1,
                 read_timeout_ms=1000)
        for i in range(cameras)], root=os.path.join(workdir, "streams"), form="mapping")
    with open(config, "a") as f:
        f.write("origin:\n  listen: \"127.0.0.1:0\"\n")
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        env.pop(k, None)
    env.update(env_extra)
    if h.SANITIZE:
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    log_path = os.path.join(workdir, f"{label}.stderr")
    h.LOG_FILES.append((label, log_path))
    with open(log_path, "w") as err:
        proc = subprocess.Popen([faults_binary(), "--config", config, "--all", "--quiet"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=env, cwd=workdir)
    h._register(proc)
    return proc, log_path


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


class SystemdNotifyTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("notify")
        cls.listener = Listener(os.path.join(cls.wd, "notify.sock"))
        cls.started = time.monotonic()
        cls.proc, cls.log = start(cls.wd, "edgestream", {
            "NOTIFY_SOCKET": os.path.join(cls.wd, "notify.sock"),
            "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6)),
            "ES_TEST_STALL_CAMERA": "cam_1",
            "ES_TEST_STALL_AFTER": str(STALL_AFTER_S),
        })
        # Until the stall has been seen and the pings have had three intervals to stop.
        h.wait_for(lambda: "event=test_stall" in read(cls.log), h.scaled(STALL_AFTER_S + 20),
                   what="the camera's test stall")
        cls.stall_seen = time.monotonic()
        time.sleep(3 * WATCHDOG_S + 1)
        cls.before_stop = cls.listener.snapshot()
        cls.snapshot_time = time.monotonic()
        cls.rc = h._stop_process(cls.proc, signal.SIGTERM, h.scaled(20))
        time.sleep(0.3)
        cls.listener.close()

    @classmethod
    def tearDownClass(cls):
        h.remove_workdir(cls.wd, cls.failed)

    def test_ready_comes_once_with_a_status_line(self):
        ready = [(t, m) for t, m in self.before_stop if "READY=1" in m.split("\n")]
        self.assertEqual(len(ready), 1, self.before_stop[:5])
        self.assertRegex(ready[0][1], r"STATUS=cameras live=\d+/2 viewers=\d+ upload_backlog=\d+ "
                                      r"origin=listening")
        # The origin listened before READY: its listening line is already in the log.
        self.assertIn("origin event=listening", read(self.log))

    def test_watchdog_pings_at_least_every_interval_while_all_threads_progress(self):
        ready_t = next(t for t, m in self.before_stop if "READY=1" in m)
        pings = [t for t, v in self.listener.with_field("WATCHDOG") if t < self.stall_seen - 0.5]
        self.assertGreaterEqual(len(pings), 4, "too few WATCHDOG=1 before the stall")
        gaps = [b - a for a, b in zip([ready_t] + pings, pings)]
        self.assertLess(max(gaps), WATCHDOG_S, f"a gap between pings reached the interval: {gaps}")

    def test_status_reports_cameras_live_viewers_and_backlog(self):
        statuses = [v for t, v in self.listener.with_field("STATUS") if t < self.stall_seen]
        self.assertTrue(any(re.fullmatch(r"cameras live=2/2 viewers=\d+ upload_backlog=0 "
                                         r"origin=listening", s) for s in statuses), statuses)

    def test_a_stalled_camera_thread_stops_the_pings(self):
        pings = [t for t, v in self.listener.with_field("WATCHDOG")]
        after = [t - self.stall_seen for t in pings if t > self.stall_seen]
        # The stall began at most a moment before its log line; the pings stop within one
        # interval of it (plus one tick of the daemon's loop) and never resume.
        self.assertTrue(all(d <= WATCHDOG_S + 0.5 for d in after),
                        f"pings continued after the stall: {after}")
        last = max(t for t, m in self.before_stop if "WATCHDOG=1" in m.split("\n"))
        self.assertGreaterEqual(self.snapshot_time - last, 2 * WATCHDOG_S,
                                "pings did not stay away")

    def test_the_stalled_thread_is_named_in_the_log_and_status(self):
        text = read(self.log)
        self.assertRegex(text, r"ERROR service event=watchdog_withheld thread=camera:cam_1 ")
        statuses = [v for t, v in self.listener.with_field("STATUS") if t > self.stall_seen]
        self.assertTrue(any("stalled=camera:cam_1" in s for s in statuses), statuses)

    def test_sigterm_still_stops_it_with_stopping(self):
        self.assertEqual(self.rc, 0, "did not exit 0 on SIGTERM")
        self.assertTrue(self.listener.with_field("STOPPING"), "no STOPPING=1")


class OriginStallTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("notify-origin")
        cls.listener = Listener(os.path.join(cls.wd, "notify.sock"))
        cls.proc, cls.log = start(cls.wd, "edgestream", {
            "NOTIFY_SOCKET": os.path.join(cls.wd, "notify.sock"),
            "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6)),
            "ES_TEST_STALL_ORIGIN": "1",
        }, cameras=1)
        h.wait_for(lambda: cls.listener.with_field("READY"), h.scaled(20), what="READY=1")
        base = h.wait_for(lambda: re.search(r"origin event=listening url=(\S+)", read(cls.log)),
                          h.scaled(10), what="the origin's URL").group(1)
        time.sleep(2 * WATCHDOG_S)
        # The request never gets an answer: the origin's thread is held.
        threading.Thread(target=cls.request, args=(base + "api/cameras",), daemon=True).start()
        h.wait_for(lambda: "origin event=test_stall" in read(cls.log), h.scaled(10),
                   what="the origin's test stall")
        cls.stall_seen = time.monotonic()
        time.sleep(3 * WATCHDOG_S + 1)
        cls.before_stop = cls.listener.snapshot()
        cls.snapshot_time = time.monotonic()
        cls.rc = h._stop_process(cls.proc, signal.SIGTERM, h.scaled(20))
        time.sleep(0.3)
        cls.listener.close()

    @staticmethod
    def request(url):
        try:
            urllib.request.urlopen(url, timeout=30).read()
        except Exception:
            pass

    @classmethod
    def tearDownClass(cls):
        h.remove_workdir(cls.wd, cls.failed)

    def test_pings_came_before_the_stall(self):
        pings = [t for t, m in self.before_stop if "WATCHDOG=1" in m.split("\n")]
        self.assertGreaterEqual(len([t for t in pings if t < self.stall_seen]), 4)

    def test_a_stalled_origin_loop_stops_the_pings(self):
        pings = [t for t, m in self.before_stop if "WATCHDOG=1" in m.split("\n")]
        after = [t - self.stall_seen for t in pings if t > self.stall_seen]
        self.assertTrue(all(d <= WATCHDOG_S + 1.5 for d in after),
                        f"pings continued after the stall: {after}")
        self.assertGreaterEqual(self.snapshot_time - max(pings), 2 * WATCHDOG_S)
        self.assertRegex(read(self.log), r"ERROR service event=watchdog_withheld thread=origin ")

    def test_it_still_stops_on_sigterm(self):
        self.assertEqual(self.rc, 0)


class AbstractSocketTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("notify-abstract")
        name = f"es-notify-test-{os.getpid()}"
        cls.listener = Listener("\0" + name)
        cls.proc, cls.log = start(cls.wd, "edgestream", {
            "NOTIFY_SOCKET": "@" + name,
            "WATCHDOG_USEC": "500000",
            "WATCHDOG_PID": "1",        # meant for another process: no pings from this one
        }, cameras=1)
        h.wait_for(lambda: cls.listener.with_field("READY"), h.scaled(20), what="READY=1")
        time.sleep(2.0)
        cls.rc = h._stop_process(cls.proc, signal.SIGTERM, h.scaled(20))
        time.sleep(0.3)
        cls.listener.close()

    @classmethod
    def tearDownClass(cls):
        h.remove_workdir(cls.wd, cls.failed)

    def test_an_abstract_socket_receives_ready_and_stopping(self):
        self.assertTrue(self.listener.with_field("READY"))
        self.assertTrue(self.listener.with_field("STOPPING"))
        self.assertEqual(self.rc, 0)

    def test_no_pings_when_watchdog_pid_names_another_process(self):
        self.assertEqual(self.listener.with_field("WATCHDOG"), [])


if __name__ == "__main__":
    h.run_tests()
