"""Logging under the journal (src/core/log.c): when stderr is the stream systemd named in
JOURNAL_STREAM ("device:inode", systemd.exec(5)), every line starts with its sd-daemon(3)
priority prefix (<3> error, <4> warning, <6> info, <7> debug) and carries no timestamp of
the daemon's own (the journal stamps lines). When JOURNAL_STREAM names another file (a
child whose stderr was redirected), the ordinary format with timestamps stays. A config
error printed before logging starts carries <3> too."""

import os
import re
import signal
import subprocess
import time
import unittest

import harness as h

JOURNAL_LINE = re.compile(r"^<(?P<prio>[3467])>(?P<component>[A-Za-z0-9_.-]+) (?P<rest>.*)$")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def run(workdir, label, args, journal, timeout=None, stop_after=None):
    """Runs edgestream with stderr in a file; JOURNAL_STREAM names that file when `journal`,
    else another file. Returns (exit status, stderr lines)."""
    path = os.path.join(workdir, f"{label}.stderr")
    h.LOG_FILES.append((label, path))
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "STATE_DIRECTORY"):
        env.pop(k, None)
    if h.SANITIZE:
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    with open(path, "w") as err:
        st = os.fstat(err.fileno())
        if not journal:
            st = os.stat(workdir)
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        proc = subprocess.Popen([h.edgestream_binary(), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=workdir)
    h._register(proc)
    if stop_after:
        time.sleep(stop_after)
        rc = h._stop_process(proc, signal.SIGTERM, h.scaled(20))
    else:
        rc = proc.wait(timeout=timeout or h.scaled(30))
        h._reap(proc)
    with open(path, errors="replace") as f:
        return rc, f.read().splitlines()


class JournalLogTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("journal")
        # One camera streams (info lines); one points at a port nobody listens on
        # (warnings); --log-level debug adds debug lines.
        url = h.TestCam(cls.wd, audio=False, extra_args=["--width", "320", "--height", "240",
                                                          "--fps", "10"]).start()
        cls.config = h.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera("cam_ok", url, target_width=320,
                     target_fps=10, segment_duration=1),
            h.camera("cam_gone", "rtsp://127.0.0.1:9/none", connect_timeout_ms=500),
        ], root=os.path.join(cls.wd, "streams"), form="mapping")
        with open(cls.config, "a") as f:
            f.write("origin:\n  listen: \"127.0.0.1:0\"\n")
        args = ["--config", cls.config, "--all", "--quiet", "--log-level", "debug"]
        cls.rc, cls.lines = run(cls.wd, "journal", args, True, stop_after=h.scaled(5))
        cls.plain_rc, cls.plain = run(cls.wd, "plain", args, False, stop_after=h.scaled(3))
        bad = os.path.join(cls.wd, "bad.yaml")
        with open(bad, "w") as f:
            f.write("- id: cam\n  name: x\n  rtsp_url: rtsp://h/x\n  settings:\n"
                    "    target_fsp: 3\n")
        cls.bad_rc, cls.bad_lines = run(cls.wd, "bad", ["--config", bad, "--check"], True)

    @classmethod
    def tearDownClass(cls):
        h.remove_workdir(cls.wd, cls.failed)

    def test_every_line_has_a_priority_prefix_and_no_timestamp(self):
        self.assertEqual(self.rc, 0)
        self.assertTrue(self.lines)
        for line in self.lines:
            self.assertRegex(line, JOURNAL_LINE)
            self.assertNotRegex(line, STAMP, "the journal stamps lines itself")

    def test_each_level_maps_to_its_priority(self):
        prios = {JOURNAL_LINE.match(l).group("prio") for l in self.lines}
        self.assertIn("6", prios)   # info: event=started
        self.assertIn("4", prios)   # warning: cam_gone cannot connect
        self.assertIn("7", prios)   # debug (--log-level debug)
        started = [l for l in self.lines if "event=started" in l]
        self.assertTrue(started and started[0].startswith("<6>app "), started)

    def test_a_config_error_is_priority_error(self):
        self.assertEqual(self.bad_rc, 2)
        self.assertTrue(any(l.startswith("<3>edgestream: ") and "target_fsp" in l
                            for l in self.bad_lines), self.bad_lines)

    def test_stderr_that_is_not_the_journal_keeps_timestamps(self):
        self.assertEqual(self.plain_rc, 0)
        parsed = [h.parse_log_line(l) for l in self.plain]
        self.assertTrue(parsed and all(parsed), self.plain[:5])
        self.assertFalse(any(l.startswith("<") for l in self.plain))


if __name__ == "__main__":
    h.run_tests()
