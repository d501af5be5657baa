"""No dependence on the working directory (issue 13): started from / , as a new user or a
service would, the daemon still finds its web files and puts its streams where it should.

- origin.web_root unset: the dashboard (/) and /player.html answer 200 with the build's
  web/dist (this binary runs from its build folder; the installed one serves
  /usr/share/edgestream/web, which test_package checks is where the package puts them).
- Under systemd's StateDirectory= ($STATE_DIRECTORY), the default local root "streams"
  lands in the state directory, not in the working directory."""

import glob
import os
import re
import signal
import subprocess
import unittest
import urllib.request

import harness as h

WEB_DIST = os.path.join(h.SOURCE_DIR, "web", "dist")


def start(workdir, label, config, env_extra=None):
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "STATE_DIRECTORY"):
        env.pop(k, None)
    env.update(env_extra or {})
    if h.SANITIZE:
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    log_path = os.path.join(workdir, f"{label}.stderr")
    h.LOG_FILES.append((label, log_path))
    with open(log_path, "w") as err:
        proc = subprocess.Popen([h.edgestream_binary(), "--config", config, "--all", "--quiet"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=env, cwd="/")
    h._register(proc)
    return proc, log_path


def small_camera(workdir):
    """The RTSP test camera at 320x240, 10 fps, no audio."""
    cam = h.TestCam(workdir, audio=False, extra_args=["--width", "320", "--height", "240",
                                                      "--fps", "10"])
    return cam.start()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


class WebRootFromAnywhereTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(os.path.join(WEB_DIST, "index.html")):
            raise RuntimeError(f"{WEB_DIST} is not built: `make web` (make build does it)")
        cls.wd = h.new_workdir("paths-web")
        url = small_camera(cls.wd)
        config = os.path.join(cls.wd, "cameras.yaml")
        with open(config, "w") as f:
            f.write("storage:\n"
                    "  - backend: local\n"
                    f"    root: \"{os.path.join(cls.wd, 'streams')}\"\n"
                    "origin:\n"
                    "  listen: \"127.0.0.1:0\"\n"
                    "cameras:\n"
                    "  - id: cam_a\n"
                    "    name: A\n"
                    f"    rtsp_url: \"{url}\"\n"
                    "    settings:\n"
                    "      target_width: 320\n"
                    "      target_fps: 10\n")
        cls.proc, cls.log = start(cls.wd, "edgestream", config)
        _, line, _ = h.wait_for(
            lambda: next(((0, l, 0) for l in read(cls.log).splitlines()
                          if "origin event=listening url=" in l), None),
            h.scaled(20), what="the origin's listening line")
        cls.base = re.search(r"url=(\S+)", line).group(1)

    @classmethod
    def tearDownClass(cls):
        cls.rc = h._stop_process(cls.proc, signal.SIGTERM, h.scaled(20))
        h.remove_workdir(cls.wd, cls.failed)

    def test_the_dashboard_is_served_when_started_from_root(self):
        status, ctype, body = get(self.base)
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        with open(os.path.join(WEB_DIST, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_the_player_page_is_served_when_started_from_root(self):
        status, ctype, body = get(self.base + "player.html")
        self.assertEqual(status, 200)
        with open(os.path.join(WEB_DIST, "player.html"), "rb") as f:
            self.assertEqual(body, f.read())


class StateDirectoryTest(h.LiveTest):
    @classmethod
    def setUpClass(cls):
        cls.wd = h.new_workdir("paths-state")
        cls.state = os.path.join(cls.wd, "state")
        os.mkdir(cls.state)
        cls.had_root_streams = os.path.exists("/streams")
        # The reference (list) form: no storage section, so the default root "streams".
        config = h.write_config(os.path.join(cls.wd, "cameras.yaml"), [
            h.camera("cam_s", small_camera(cls.wd), target_width=320,
                     target_fps=10, segment_duration=1)])
        cls.proc, cls.log = start(cls.wd, "edgestream", config,
                                  {"STATE_DIRECTORY": cls.state + ":/nonexistent"})
        pattern = os.path.join(cls.state, "streams", "*", "cam_s", "stream.m3u8")
        cls.found = None
        try:
            cls.found = h.wait_for(lambda: glob.glob(pattern), h.scaled(20),
                                   what="a playlist under $STATE_DIRECTORY/streams")
        except TimeoutError:
            pass

    @classmethod
    def tearDownClass(cls):
        h._stop_process(cls.proc, signal.SIGTERM, h.scaled(20))
        if not cls.had_root_streams and os.path.isdir("/streams"):
            subprocess.run(["rm", "-rf", "--one-file-system", "/streams"])
        h.remove_workdir(cls.wd, cls.failed)

    def test_the_default_root_is_in_the_state_directory(self):
        self.assertTrue(self.found, "no playlist under $STATE_DIRECTORY/streams")

    def test_nothing_is_written_to_the_working_directory(self):
        self.assertEqual(os.path.exists("/streams"), self.had_root_streams)


if __name__ == "__main__":
    h.run_tests()
