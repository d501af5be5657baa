"""Helpers for the origin's integration tests (test_origin_*.py), on top of harness.py:
a config with an `origin:` section, the daemon started on a free port (origin.listen
127.0.0.1:0, the URL read from its `event=listening` log line), small HTTP clients (urllib
for ordinary requests, raw sockets for requests no library would send), and running the
Node-based conformance checker and browser bench. Standard library only."""

import os
import sys
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

import harness as h

NODE = h.require_tool("node")
CONFORMANCE_DIR = os.path.join(h.SOURCE_DIR, "tests", "conformance")
WEB_DIST = os.path.join(h.SOURCE_DIR, "web", "dist")


class OriginTest(h.LiveTest):
    """Base of the tests that run one daemon against one test camera: setUpClass sets
    `wd`, `cam` (an h.TestCam) and `daemon`; tearDownClass stops both and keeps the work
    directory when a check failed or the daemon did not exit 0."""
    daemon = None
    cam = None

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop() if cls.daemon else None
        if cls.cam:
            cls.cam.stop()
        if rc not in (0, None):
            cls.failed = True
            sys.stderr.write(f"edgestream exited with {rc}\n")
        h.remove_workdir(cls.wd, cls.failed)


def write_config(path, cameras, origin=None, root=None):
    """Mapping form: storage (local at root, or none), origin: {...}, cameras. `cameras` are
    harness.camera() dicts; origin values are written as YAML scalars, dicts as mappings."""
    origin = dict(origin or {})
    origin.setdefault("listen", "127.0.0.1:0")
    # WebRTC (origin.webrtc) has its own tests (webrtc_harness.py); here it is off, so
    # that its fixed UDP port never makes two origin tests running at once collide.
    origin.setdefault("webrtc", {"enabled": False})
    lines = ["# written by tests/integration/origin_harness.py"]
    if root is None:
        lines.append("storage: []")
    else:
        lines += ["storage:", "  - backend: local", f"    root: {h._yaml_scalar(root)}"]
    lines.append("origin:")
    for k, v in origin.items():
        if isinstance(v, dict):
            lines.append(f"  {k}:")
            lines += [f"    {k2}: {h._yaml_scalar(v2)}" for k2, v2 in v.items()]
        else:
            lines.append(f"  {k}: {h._yaml_scalar(v)}")
    lines.append("cameras:")
    for cam in cameras:
        lines += h._camera_yaml(cam, 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    h.LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


def origin_base(daemon, timeout=None):
    """The origin's base URL, from the daemon's `event=listening` log line."""
    _, line, _ = daemon.wait_log(r"origin event=listening url=", timeout or h.scaled(15),
                                 what="the origin's listening line")
    return re.search(r"url=(\S+)", line).group(1)


def start_daemon(workdir, config, label="edgestream", extra=()):
    daemon = h.Daemon(workdir, ["--config", config, "--all", "--quiet", *extra], label=label)
    daemon.start()
    return daemon, origin_base(daemon)


def request(url, headers=None, method="GET", timeout=10.0):
    """(status, headers dict lower-cased, body bytes); never raises for HTTP statuses."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def raw_request(base, data, timeout=5.0, read_limit=1 << 20):
    """Sends `data` (bytes) as is on a new connection and reads until the server closes or
    the timeout passes. Returns (status or None, raw response bytes)."""
    m = re.match(r"https?://([^/:]+):(\d+)/", base)
    host, port = m.group(1), int(m.group(2))
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        got = 0
        while time.monotonic() < deadline and got < read_limit:
            try:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                c = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
            got += len(c)
            head = b"".join(chunks)
            m2 = re.search(rb"\r\ncontent-length: *(\d+)\r\n", head, re.I)
            end = head.find(b"\r\n\r\n")
            if m2 and end >= 0 and len(head) >= end + 4 + int(m2.group(1)):
                break
    raw = b"".join(chunks)
    sm = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return (int(sm.group(1)) if sm else None), raw


def wait_playlist(base, cam, parts=False, timeout=None, token=None):
    """Waits until /live/<cam>/stream.m3u8 lists a complete segment (and a part)."""
    url = f"{base}live/{cam}/stream.m3u8" + (f"?token={token}" if token else "")

    def ready():
        try:
            status, _, body = request(url, timeout=5)
        except OSError:
            return None
        text = body.decode(errors="replace")
        if status == 200 and "#EXTINF" in text and (not parts or "#EXT-X-PART:" in text):
            return text
        return None
    return h.wait_for(ready, timeout or h.scaled(30), interval=0.2,
                      what=f"a playlist for {cam}")


def ensure_conformance_deps():
    """hls-parser (tests/conformance/package-lock.json), installed by npm ci when missing."""
    if os.path.exists(os.path.join(CONFORMANCE_DIR, "node_modules", "hls-parser")):
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CONFORMANCE_DIR, check=True,
                   stdout=subprocess.DEVNULL, timeout=300)


def run_node(script, args, timeout, cwd=None):
    """Runs a Node script that prints one JSON object; returns (rc, parsed or None, stdout,
    stderr)."""
    proc = subprocess.run([NODE, script, *args], cwd=cwd or h.SOURCE_DIR, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, h.printed_json(proc.stdout.strip()), proc.stdout, proc.stderr


def parse_ll(text):
    """msn -> {'complete': bool, 'parts': n, 'discontinuity': bool, 'map': uri} of an LL
    playlist, plus the header values."""
    info = {"segments": {}, "msn": None, "dseq": 0, "maps": []}
    msn = None
    cur = {"parts": 0, "discontinuity": False, "map": None}
    current_map = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = info["msn"] = int(line.split(":")[1])
        elif line.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            info["dseq"] = int(line.split(":")[1])
        elif line.startswith("#EXT-X-SKIP:"):
            msn += int(line.split("=")[1])
        elif line == "#EXT-X-DISCONTINUITY":
            cur["discontinuity"] = True
        elif line.startswith("#EXT-X-MAP:"):
            current_map = re.search(r'URI="([^"]+)"', line).group(1)
            info["maps"].append(current_map)
        elif line.startswith("#EXT-X-PART:"):
            cur["parts"] += 1
        elif line and not line.startswith("#"):
            info["segments"][msn] = dict(cur, complete=True, map=current_map, uri=line)
            msn += 1
            cur = {"parts": 0, "discontinuity": False, "map": None}
    if cur["parts"]:
        info["segments"][msn] = dict(cur, complete=False, map=current_map, uri=None)
    return info
