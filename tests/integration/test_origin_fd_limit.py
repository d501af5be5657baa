#!/usr/bin/env python3
"""The origin under a descriptor limit far below max_connections (issue 11, item 7).

edgestream is started with `ulimit -n 24` (a wrapper script execs it, so the PID is the
daemon's) and the default max_connections (4096). It must lower max_connections to what
the limit allows and say so, and when accept() still fails with EMFILE (the daemon's own
descriptors leave fewer than max_connections free), pause accepting instead of spinning
its event loop on a listener that stays readable: 40 connections held open for 3 s cost
the origin's thread (es-origin) almost no CPU, the descriptor count never passes the
limit, and once they close the origin answers again.
"""

import os
import re
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import origin_harness as oh  # noqa: E402

FD_LIMIT = 24
HELD = 40


def thread_cpu(pid, name):
    """CPU seconds (user + system) of the thread called `name` in process `pid`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    raise AssertionError(f"no thread {name} in {pid}")


class OriginFdLimitTest(oh.OriginTest):

    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("origin-fd-limit")
        wrapper = os.path.join(cls.wd, "edgestream-ulimit")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nulimit -n {FD_LIMIT}\nexec {h.edgestream_binary()} \"$@\"\n")
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
        cls.cam = h.TestCam(cls.wd, "testcam")
        url = cls.cam.start()
        config = oh.write_config(os.path.join(cls.wd, "cameras.yaml"), [h.camera("cam", url)])
        saved = os.environ.get("ES_BINARY")
        os.environ["ES_BINARY"] = wrapper
        try:
            cls.daemon, cls.base = oh.start_daemon(cls.wd, config)
        finally:
            if saved is None:
                del os.environ["ES_BINARY"]
            else:
                os.environ["ES_BINARY"] = saved
        cls.host, cls.port = re.match(r"http://([^/:]+):(\d+)/", cls.base).groups()

    def test_1_max_connections_is_lowered_to_fit_the_limit(self):
        _, line, _ = self.daemon.wait_log(r"origin event=listening", h.scaled(5))
        m = re.search(r"max_connections=(\d+)", line)
        self.assertLess(int(m.group(1)), FD_LIMIT, line)
        lowered = [l for l in self.daemon.log_lines() if "event=max_connections_lowered" in l]
        self.assertEqual(len(lowered), 1, lowered)
        self.assertIn(f"fd_limit={FD_LIMIT}", lowered[0])

    def test_2_out_of_descriptors_the_loop_rests(self):
        pid = self.daemon.pid
        held = [socket.create_connection((self.host, int(self.port)), timeout=5)
                for _ in range(HELD)]
        try:
            time.sleep(0.5)
            fds, cpu0, t0 = 0, thread_cpu(pid, "es-origin"), time.monotonic()
            while time.monotonic() - t0 < 3.0:
                fds = max(fds, len(os.listdir(f"/proc/{pid}/fd")))
                time.sleep(0.1)
            cpu = thread_cpu(pid, "es-origin") - cpu0
        finally:
            for s in held:
                s.close()
        sys.stderr.write(f"fd limit {FD_LIMIT}: {HELD} connections held 3 s, es-origin CPU "
                         f"{cpu:.2f} s, peak descriptors {fds}\n")
        self.assertLessEqual(fds, FD_LIMIT)
        # A spinning loop would burn ~3 s of CPU here.
        self.assertLess(cpu, 0.3 * h.SCALE, "the origin's thread spins while out of descriptors")

        def answered():
            try:
                return oh.request(self.base + "metrics", timeout=2)
            except OSError:
                return None
        status, _, body = h.wait_for(answered, h.scaled(5), interval=0.2,
                                     what="the origin to answer again")
        self.assertEqual(status, 200)
        text = body.decode()
        paused = int(re.search(r"^edgestream_http_accept_pauses_total (\d+)", text, re.M).group(1))
        rejected = int(re.search(r"^edgestream_http_connections_rejected_total (\d+)", text,
                                 re.M).group(1))
        self.assertGreater(paused + rejected, 0, "neither a pause nor a refusal")
        warns = [l for l in self.daemon.log_lines() if "event=accept_paused" in l]
        self.assertLessEqual(len(warns), 3, "accept_paused logged more than once per episode")

    def test_3_stops_cleanly(self):
        self.assertEqual(self.daemon.stop(), 0)
        h.fail_if(self, self.daemon.sanitizer_reports(), "sanitizer reports")


if __name__ == "__main__":
    h.run_tests()
