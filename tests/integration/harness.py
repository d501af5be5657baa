"""Shared machinery for edgestream's integration tests (Python 3 standard library only).

What lives here:
  - binaries: ES_BINARY (edgestream), ES_TESTCAM (es-testcam), ES_SANITIZE (1 = ASan/UBSan
    build: every timeout is scaled, sanitizer reports fail the test);
  - TestCam / Daemon: start, stop, kill, restart the test camera and edgestream, each by PID,
    with every wait bounded, every log kept in a temp file and printed when a test fails;
  - write_config: cameras.yaml in the reference (list) form or the mapping form;
  - parse_playlist: a small strict RFC 8216 (version 3) parser, independent of the daemon's;
    check_playlist_updates: the RFC 8216 §6.2.2 rules between two versions of a playlist;
  - DirWatcher: a thread that watches one camera directory, remembers when every file
    appeared, changed and vanished, hashes and copies every segment the moment it is seen
    (so it can be probed after the daemon deleted it) and keeps every playlist version;
  - probe_segment: ffprobe of one segment (streams, packets, first frame, first NAL units);
  - rtcp_sender_report_offsets: a tiny RTSP/RTP-over-TCP client that checks the test
    camera's RTCP sender reports against this machine's wall clock.

Tests use `run_tests()` instead of unittest.main(): it prints every collected log when a
test failed and kills anything still running.
"""

import atexit
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from dataclasses import dataclass, field
from typing import Optional

# ---------------------------------------------------------------------------
# Environment

SANITIZE = os.environ.get("ES_SANITIZE", "0").strip().lower() in ("1", "on", "true", "yes")
# Sanitized binaries run 2-3x slower: every timeout and latency bound is multiplied by this.
SCALE = 3.0 if SANITIZE else 1.0

SOURCE_DIR = os.environ.get(
    "ES_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                      "AddressSanitizer:DEADLYSIGNAL", "ERROR: UndefinedBehaviorSanitizer")


def scaled(seconds):
    return seconds * SCALE


def _find_binary(env_name, candidates):
    value = os.environ.get(env_name)
    if value:
        if not os.access(value, os.X_OK):
            raise RuntimeError(f"{env_name}={value} is not an executable file")
        return value
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    raise RuntimeError(f"set {env_name} (tried {', '.join(candidates)})")


def edgestream_binary():
    return _find_binary("ES_BINARY", [os.path.join(SOURCE_DIR, "build", "edgestream")])


def testcam_binary():
    return _find_binary("ES_TESTCAM", [os.path.join(SOURCE_DIR, "build", "tests", "es-testcam"),
                                       os.path.join(SOURCE_DIR, "build", "es-testcam")])


_tool_paths = {}


def require_tool(program):
    """The path of `program`, found as scripts/need-tool finds it. When it is missing this
    raises at once with the program and the Debian package that provides it
    (scripts/tools.list), rather than letting a test wait for something that never starts."""
    if program not in _tool_paths:
        proc = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "need-tool"), program],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip() or f"need-tool {program}: exit {proc.returncode}")
        _tool_paths[program] = proc.stdout.strip()
    return _tool_paths[program]


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns something truthy (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (tests prefer es-testcam --port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
        timespec="milliseconds")


# ---------------------------------------------------------------------------
# Logs and process bookkeeping

LOG_FILES = []          # (label, path) of every log, printed when a test fails
_LIVE_PROCESSES = []    # every Popen we started and have not reaped yet


def _register(proc):
    _LIVE_PROCESSES.append(proc)


def _reap(proc):
    if proc in _LIVE_PROCESSES:
        _LIVE_PROCESSES.remove(proc)


def kill_all_started():
    """Kills (by PID) every process this test started that is still running."""
    for proc in list(_LIVE_PROCESSES):
        if proc.poll() is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        _reap(proc)


atexit.register(kill_all_started)


def print_logs(stream=sys.stderr, limit=60000):
    for label, path in LOG_FILES:
        try:
            with open(path, "r", errors="replace") as f:
                text = f.read()
        except OSError as e:
            text = f"(cannot read: {e})"
        if len(text) > limit:
            text = f"... ({len(text) - limit} characters cut) ...\n" + text[-limit:]
        stream.write(f"\n===== {label}: {path} =====\n{text}\n===== end of {label} =====\n")
    stream.flush()


def new_workdir(prefix):
    d = tempfile.mkdtemp(prefix=f"es-{prefix}-")
    return d


def remove_workdir(path, failed):
    if failed or os.environ.get("ES_KEEP_TMP"):
        sys.stderr.write(f"(kept work directory {path})\n")
        return
    shutil.rmtree(path, ignore_errors=True)


class LiveTest(unittest.TestCase):
    """Base of the integration tests: live processes are set up once per class, and the
    checks run against what they did. `failed` turns true when any check fails, so that
    tearDownClass keeps the work directory (remove_workdir(cls.wd, cls.failed))."""
    failed = False

    def run(self, result=None):
        result = super().run(result)
        if result is not None and not result.wasSuccessful():
            type(self).failed = True
        return result


# ---------------------------------------------------------------------------
# The test camera


def printed_json(text):
    """The JSON object a Node script printed at the end of its output (after any progress
    lines), or None when there is none or it does not parse."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError:
        return None


class TestCam:
    """es-testcam, started and stopped by PID. port=0 lets the kernel pick; the actual
    port comes from the `ready` line and is kept for restarts."""

    def __init__(self, workdir, label="testcam", port=0, path="/cam1", audio=True,
                 extra_args=()):
        self.workdir = workdir
        self.label = label
        self.port = port
        self.path = path
        self.audio = audio
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.ready_time = None      # wall clock (time.time()) when `ready` was read
        self.starts = 0
        self.log_path = os.path.join(workdir, f"{label}.log")
        LOG_FILES.append((label, self.log_path))

    def start(self, timeout=None):
        timeout = timeout if timeout is not None else scaled(10)
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                return self._start_once(deadline)
            except _TestCamBindError as e:
                # Restart on the same port right after a kill: retry until bound.
                last_error = e
                time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not start: {last_error}")

    def _start_once(self, deadline):
        cmd = [testcam_binary(), "--port", str(self.port), "--path", self.path,
               "--bind", "127.0.0.1", *self.extra_args]
        if not self.audio:
            cmd.append("--no-audio")
        log = open(self.log_path, "a")
        log.write(f"--- {iso(time.time())} start: {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        _register(proc)
        line = _read_line(proc, deadline)
        if line is None:
            rc = _stop_process(proc, signal.SIGKILL, 5)
            if rc is not None and rc != -signal.SIGKILL:
                raise _TestCamBindError(f"exited with {rc} before ready")
            raise RuntimeError(f"{self.label}: no `ready` line before the timeout")
        m = re.fullmatch(r"ready (rtsp://127\.0\.0\.1:(\d+)(/\S*))\n", line)
        if not m:
            _stop_process(proc, signal.SIGKILL, 5)
            raise RuntimeError(f"{self.label}: unexpected first line {line!r}")
        self.ready_time = time.time()
        self.proc = proc
        self.url = m.group(1)
        self.port = int(m.group(2))
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"--- {iso(self.ready_time)} ready pid={proc.pid} {self.url}\n")
        return self.url

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def sessions(self):
        """The `session <id> play <path>` lines es-testcam logged, as (id, path): one per
        RTSP session a client played, so a test can tell a reconnect from none."""
        try:
            with open(self.log_path, errors="replace") as f:
                return re.findall(r"^session (\S+) play (\S+)$", f.read(), re.M)
        except OSError:
            return []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Stops the camera (SIGKILL simulates a camera that just dies). Returns its status."""
        if self.proc is None:
            return None
        rc = _stop_process(self.proc, sig, timeout if timeout is not None else scaled(5))
        with open(self.log_path, "a") as log:
            log.write(f"--- {iso(time.time())} stopped with signal {sig}: status {rc}\n")
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, timeout=None):
        self.stop()
        return self.start(timeout)


class _TestCamBindError(Exception):
    pass


def _read_line(proc, deadline):
    """One line of proc's stdout, or None at EOF or deadline (never blocks past it)."""
    import select
    fd = proc.stdout.fileno()
    buf = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        r, _, _ = select.select([fd], [], [], min(remaining, 0.2))
        if not r:
            if proc.poll() is not None:
                return None
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        buf += chunk
        if chunk == b"\n":
            return buf.decode("utf-8", "replace")


def _stop_process(proc, sig, timeout):
    """Signals proc (by PID), waits up to timeout, then SIGKILLs. Returns the exit status."""
    rc = proc.poll()
    if rc is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            rc = None           # did not stop by itself
    if proc.stdout:
        proc.stdout.close()
    _reap(proc)
    return rc


# ---------------------------------------------------------------------------
# Configuration


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def _camera_yaml(cam, indent):
    pad = " " * indent
    lines = []
    first = True
    for key in ("id", "name", "rtsp_url", "use_case", "enabled", "location"):
        if key in cam:
            lines.append(f"{pad}{'- ' if first else '  '}{key}: {_yaml_scalar(cam[key])}")
            first = False
    settings = cam.get("settings") or {}
    if settings:
        lines.append(f"{pad}  settings:")
        for k, v in settings.items():
            lines.append(f"{pad}    {k}: {_yaml_scalar(v)}")
    return lines


def camera(cam_id, url, **settings):
    """A camera entry as the reference design writes it. Keyword arguments are settings;
    enabled=/location= go to the camera itself."""
    cam = {"id": cam_id, "name": f"Test camera {cam_id}", "rtsp_url": url,
           "use_case": "live_stream", "enabled": settings.pop("enabled", True)}
    if "location" in settings:
        cam["location"] = settings.pop("location")
    cam["settings"] = settings
    return cam


def write_config(path, cameras, root=None, form="list"):
    """form='list': the reference design's top-level list. form='mapping': `storage:` with a
    local backend at root, beside `cameras:`."""
    lines = ["# written by tests/integration/harness.py"]
    if form == "list":
        for cam in cameras:
            lines += _camera_yaml(cam, 0)
            lines.append("")
    elif form == "mapping":
        if root is not None:
            lines += ["storage:", "  - backend: local", f"    root: {_yaml_scalar(root)}", ""]
        lines.append("cameras:")
        for cam in cameras:
            lines += _camera_yaml(cam, 2)
    else:
        raise ValueError(form)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


# ---------------------------------------------------------------------------
# edgestream

LOG_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+"
    r"(?P<level>DEBUG|INFO|WARN|ERROR)\s+(?P<component>[A-Za-z0-9_.-]+)(?P<fields>(?:\s+.*)?)$")
FIELD = re.compile(r'([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_log_line(line):
    """(time, level, component, {key: value}) or None when the line is not a log line."""
    m = LOG_LINE.match(line.rstrip("\n"))
    if not m:
        return None
    fields = {k: (v[1:-1] if v.startswith('"') else v)
              for k, v in FIELD.findall(m.group("fields"))}
    return m.group("time"), m.group("level"), m.group("component"), fields


class Daemon:
    """One edgestream process at a time; start() again after stop() for a restart. stderr of
    every run goes to its own temp file."""

    def __init__(self, workdir, args, label="edgestream"):
        self.workdir = workdir
        self.args = list(args)
        self.label = label
        self.proc = None
        self.runs = 0
        self.log_path = None
        self.log_paths = []         # one stderr file per run
        self.start_time = None

    def start(self):
        self.runs += 1
        self.log_path = os.path.join(self.workdir, f"{self.label}-run{self.runs}.stderr")
        self.log_paths.append(self.log_path)
        out_path = os.path.join(self.workdir, f"{self.label}-run{self.runs}.stdout")
        LOG_FILES.append((f"{self.label} run {self.runs} stderr", self.log_path))
        LOG_FILES.append((f"{self.label} run {self.runs} stdout", out_path))
        env = dict(os.environ)
        if SANITIZE:
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        cmd = [edgestream_binary(), *self.args]
        err = open(self.log_path, "w")
        out = open(out_path, "w")
        with open(os.path.join(self.workdir, f"{self.label}-run{self.runs}.cmd"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.start_time = time.time()
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                     env=env, cwd=self.workdir)
        err.close()
        out.close()
        _register(self.proc)
        return self.proc.pid

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return self.proc.poll() if self.proc else None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Returns the exit status, or None when it had to be SIGKILLed after timeout."""
        if self.proc is None:
            return None
        rc = _stop_process(self.proc, sig, timeout if timeout is not None else scaled(10))
        return rc

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def wait_log(self, pattern, timeout, after_line=0, what=None):
        """Waits for a stderr line (index >= after_line) matching pattern. Returns
        (index, line, time.time() when first seen)."""
        rx = re.compile(pattern)

        def find():
            lines = self.log_lines()
            for i in range(after_line, len(lines)):
                if rx.search(lines[i]):
                    return (i, lines[i], time.time())
            return None
        return wait_for(find, timeout, interval=0.02, what=what or f"log line /{pattern}/")

    def all_log_lines(self):
        """stderr lines of every run so far."""
        out = []
        for path in self.log_paths:
            try:
                with open(path, "r", errors="replace") as f:
                    out += f.read().splitlines()
            except OSError:
                pass
        return out

    def sanitizer_reports(self):
        return [l for l in self.all_log_lines() if any(p in l for p in SANITIZER_PATTERNS)]

    def error_lines(self):
        """Lines logged at ERROR level (a clean run has none)."""
        return [l for l in self.all_log_lines()
                if (parse_log_line(l) or (None, None))[1] == "ERROR"]


# ---------------------------------------------------------------------------
# Playlist: strict RFC 8216 version 3 parser


class PlaylistError(Exception):
    pass


@dataclass
class Segment:
    msn: int
    uri: str
    duration: float
    title: str
    pdt: Optional[float]            # seconds since the epoch, from EXT-X-PROGRAM-DATE-TIME
    pdt_text: Optional[str]
    discontinuity: bool             # EXT-X-DISCONTINUITY before this segment
    disc_number: int                # discontinuity sequence number this segment belongs to

    def key(self):
        return (self.msn, self.uri, self.duration, self.pdt_text, self.discontinuity,
                self.disc_number)


@dataclass
class Playlist:
    text: str
    version: Optional[int]
    target_duration: int
    media_sequence: int
    discontinuity_sequence: int
    has_discontinuity_sequence_tag: bool
    independent_segments: bool
    endlist: bool
    segments: list = field(default_factory=list)

    def by_msn(self):
        return {s.msn: s for s in self.segments}

    def last_msn(self):
        return self.segments[-1].msn if self.segments else self.media_sequence - 1

    def duration(self):
        return sum(s.duration for s in self.segments)


_PDT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_DECIMAL_INT = re.compile(r"^(0|[1-9]\d{0,19})$")
_DECIMAL_FLOAT = re.compile(r"^\d+(\.\d+)?$")
_HEADER_TAGS = {"EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
                "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-INDEPENDENT-SEGMENTS"}


def parse_pdt(text):
    if not _PDT.match(text):
        raise PlaylistError(f"EXT-X-PROGRAM-DATE-TIME not ISO 8601 / RFC 3339: {text!r}")
    return datetime.datetime.fromisoformat(text).timestamp()


def _int(tag, value):
    if not _DECIMAL_INT.match(value):
        raise PlaylistError(f"#{tag}: {value!r} is not a decimal-integer")
    return int(value)


def parse_playlist(text):
    """Parses a media playlist, raising PlaylistError on anything RFC 8216 forbids or this
    project's version-3 playlists should never contain."""
    if text.startswith("\ufeff"):
        raise PlaylistError("byte order mark")
    if "\r" in text.replace("\r\n", ""):
        raise PlaylistError("bare carriage return")
    lines = text.replace("\r\n", "\n").split("\n")
    if not text.endswith("\n"):
        raise PlaylistError("last line not terminated (truncated write?)")
    if lines[0] != "#EXTM3U":
        raise PlaylistError(f"first line is {lines[0]!r}, not #EXTM3U")
    seen_header = set()
    version = None
    target = None
    media_sequence = 0
    dseq = 0
    has_dseq = False
    independent = False
    endlist = False
    segments = []
    pending = {}        # segment tags waiting for their URI
    uris = set()
    disc_count = 0
    for n, line in enumerate(lines[1:], start=2):
        if line == "":
            continue
        if endlist:
            raise PlaylistError(f"line {n}: {line!r} after #EXT-X-ENDLIST")
        if line != line.strip():
            raise PlaylistError(f"line {n}: leading/trailing whitespace in {line!r}")
        if line.startswith("#EXT"):
            tag, _, value = line[1:].partition(":")
            has_value = ":" in line
            if tag in _HEADER_TAGS:
                if tag in seen_header:
                    raise PlaylistError(f"line {n}: #{tag} appears twice")
                if segments or pending:
                    raise PlaylistError(f"line {n}: #{tag} after the first media segment")
                seen_header.add(tag)
            if tag == "EXT-X-VERSION":
                version = _int(tag, value)
            elif tag == "EXT-X-TARGETDURATION":
                target = _int(tag, value)
            elif tag == "EXT-X-MEDIA-SEQUENCE":
                media_sequence = _int(tag, value)
            elif tag == "EXT-X-DISCONTINUITY-SEQUENCE":
                dseq = _int(tag, value)
                has_dseq = True
            elif tag == "EXT-X-INDEPENDENT-SEGMENTS":
                if has_value:
                    raise PlaylistError(f"line {n}: #{tag} takes no value")
                independent = True
            elif tag == "EXT-X-PROGRAM-DATE-TIME":
                if "pdt" in pending:
                    raise PlaylistError(f"line {n}: two PROGRAM-DATE-TIME tags for one segment")
                pending["pdt"] = (value, parse_pdt(value))
            elif tag == "EXT-X-DISCONTINUITY":
                if has_value:
                    raise PlaylistError(f"line {n}: #{tag} takes no value")
                if "disc" in pending:
                    raise PlaylistError(f"line {n}: two DISCONTINUITY tags for one segment")
                pending["disc"] = True
            elif tag == "EXTINF":
                if "extinf" in pending:
                    raise PlaylistError(f"line {n}: two EXTINF tags for one segment")
                dur, comma, title = value.partition(",")
                if not comma:
                    raise PlaylistError(f"line {n}: EXTINF without a comma: {line!r}")
                if not _DECIMAL_FLOAT.match(dur):
                    raise PlaylistError(f"line {n}: EXTINF duration {dur!r}")
                pending["extinf"] = (float(dur), title, "." in dur)
            elif tag == "EXT-X-ENDLIST":
                if pending:
                    raise PlaylistError(f"line {n}: ENDLIST with segment tags pending")
                endlist = True
            else:
                raise PlaylistError(f"line {n}: unexpected tag {line!r}")
            continue
        if line.startswith("#"):
            continue            # a comment
        # A URI line.
        if "extinf" not in pending:
            raise PlaylistError(f"line {n}: URI {line!r} without EXTINF")
        if any(c.isspace() for c in line) or "/" in line or line.startswith("."):
            raise PlaylistError(f"line {n}: URI {line!r} is not a plain file name")
        if line in uris:
            raise PlaylistError(f"line {n}: URI {line!r} listed twice")
        uris.add(line)
        dur, title, is_float = pending["extinf"]
        if is_float and version is not None and version < 3:
            raise PlaylistError("floating-point EXTINF needs EXT-X-VERSION >= 3")
        if "disc" in pending:
            disc_count += 1
        pdt_text, pdt = pending.get("pdt", (None, None))
        segments.append(Segment(msn=media_sequence + len(segments), uri=line, duration=dur,
                                title=title, pdt=pdt, pdt_text=pdt_text,
                                discontinuity=bool(pending.get("disc")),
                                disc_number=dseq + disc_count))
        pending = {}
    if pending:
        raise PlaylistError(f"segment tags without a URI at the end: {sorted(pending)}")
    if target is None:
        raise PlaylistError("no #EXT-X-TARGETDURATION")
    for s in segments:
        # RFC 8216 §4.3.3.1: EXTINF rounded to the nearest integer <= TARGETDURATION.
        if int(s.duration + 0.5) > target:
            raise PlaylistError(f"{s.uri}: EXTINF {s.duration} rounds above "
                                f"TARGETDURATION {target}")
    return Playlist(text=text, version=version, target_duration=target,
                    media_sequence=media_sequence, discontinuity_sequence=dseq,
                    has_discontinuity_sequence_tag=has_dseq, independent_segments=independent,
                    endlist=endlist, segments=segments)


def check_playlist_update(old, new, same_process=True):
    """Problems (list of str) in going from playlist version `old` to `new` (RFC 8216 §6.2.2:
    only append, remove from the head, bump MEDIA-SEQUENCE/DISCONTINUITY-SEQUENCE, add
    ENDLIST). Across a process restart (same_process=False) ENDLIST may go away."""
    p = []
    if new.target_duration != old.target_duration:
        p.append(f"TARGETDURATION changed {old.target_duration} -> {new.target_duration}")
    if new.version != old.version:
        p.append(f"VERSION changed {old.version} -> {new.version}")
    if new.media_sequence < old.media_sequence:
        p.append(f"MEDIA-SEQUENCE decreased {old.media_sequence} -> {new.media_sequence}")
    if new.discontinuity_sequence < old.discontinuity_sequence:
        p.append(f"DISCONTINUITY-SEQUENCE decreased {old.discontinuity_sequence} -> "
                 f"{new.discontinuity_sequence}")
    if old.endlist and same_process and (not new.endlist or new.text != old.text):
        p.append("playlist changed after ENDLIST")
    old_by = old.by_msn()
    for s in new.segments:
        o = old_by.get(s.msn)
        if o is not None and o.key() != s.key():
            p.append(f"msn {s.msn} changed between versions: {o.key()} -> {s.key()}")
    if new.segments and old.segments and new.segments[0].msn > old.segments[-1].msn + 1:
        # Every old segment left and more we never saw: DSEQ grows by at least the old tags.
        removed_tags = sum(1 for s in old.segments if s.discontinuity)
        if new.discontinuity_sequence < old.discontinuity_sequence + removed_tags:
            p.append("DISCONTINUITY-SEQUENCE did not count the removed DISCONTINUITY tags")
    else:
        removed_tags = sum(1 for s in old.segments
                           if s.msn < new.media_sequence and s.discontinuity)
        if new.discontinuity_sequence != old.discontinuity_sequence + removed_tags:
            p.append(f"DISCONTINUITY-SEQUENCE {new.discontinuity_sequence} != "
                     f"{old.discontinuity_sequence} + {removed_tags} removed DISCONTINUITY tags")
    if old.segments and new.segments and new.segments[-1].msn < old.segments[-1].msn:
        p.append(f"last msn went back {old.segments[-1].msn} -> {new.segments[-1].msn}")
    return p


# ---------------------------------------------------------------------------
# Watching a camera directory


@dataclass
class FileRecord:
    name: str
    first_seen: float               # time.time() of the poll that first saw it
    mtime: float                    # its mtime then
    size: int
    sha256: str
    copy: Optional[str]             # our copy of the bytes (segments only)
    signature: tuple
    contents: list = field(default_factory=list)     # every distinct sha256 seen under name
    deleted_at: Optional[float] = None
    reappeared: int = 0


class DirWatcher(threading.Thread):
    """Polls one camera directory every `interval` seconds. Dotfiles (temporary names) are
    ignored. Thread-safe snapshots via .lock."""

    def __init__(self, camdir, copy_dir, interval=0.05, playlist_name="stream.m3u8"):
        super().__init__(daemon=True)
        self.camdir = camdir
        self.copy_dir = copy_dir
        os.makedirs(copy_dir, exist_ok=True)
        self.interval = interval
        self.playlist_name = playlist_name
        self.lock = threading.Lock()
        self.files = {}             # name -> FileRecord
        self.snapshots = []         # (time seen, Playlist, run number)
        self.errors = []            # strings: anything the daemon must never do
        self.run_number = 1         # bumped by the test across a daemon restart
        self._last_playlist_text = None
        self._stop_event = threading.Event()
        self.polls = 0

    def run(self):
        while not self._stop_event.is_set():
            try:
                self.poll()
            except Exception as e:          # keep watching; report at the end
                with self.lock:
                    self.errors.append(f"watcher exception: {e!r}")
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)
        self.poll()             # one final look

    def poll(self):
        now = time.time()
        try:
            names = os.listdir(self.camdir)
        except FileNotFoundError:
            names = []
        present = set()
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(self.camdir, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            present.add(name)
            sig = (st.st_ino, st.st_size, st.st_mtime_ns)
            with self.lock:
                rec = self.files.get(name)
            if rec is not None and rec.signature == sig and rec.deleted_at is None:
                if name == self.playlist_name:
                    self._read_playlist(path, now)
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            digest = hashlib.sha256(data).hexdigest()
            copy = None
            if name.endswith(".ts"):
                copy = os.path.join(self.copy_dir, f"{name}.{digest[:16]}")
                if not os.path.exists(copy):
                    with open(copy, "wb") as f:
                        f.write(data)
            with self.lock:
                if rec is None:
                    rec = FileRecord(name=name, first_seen=now, mtime=st.st_mtime, size=st.st_size,
                                     sha256=digest, copy=copy, signature=sig, contents=[digest])
                    self.files[name] = rec
                else:
                    if rec.deleted_at is not None:
                        rec.reappeared += 1
                        rec.deleted_at = None
                        if name.endswith(".ts"):
                            self.errors.append(
                                f"{name} reappeared {now - rec.first_seen:.2f} s after it was "
                                f"first seen (a segment name was reused)")
                    rec.signature = sig
                    if digest not in rec.contents:
                        rec.contents.append(digest)
                        if name.endswith(".ts"):
                            self.errors.append(
                                f"{name} changed content (sha256 {rec.contents[0][:12]} -> "
                                f"{digest[:12]}): not atomic or a name reused")
            if name == self.playlist_name:
                self._read_playlist(path, now, data)
        with self.lock:
            for name, rec in self.files.items():
                if name not in present and rec.deleted_at is None:
                    rec.deleted_at = now
            self.polls += 1

    def _read_playlist(self, path, now, data=None):
        if data is None:
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                return
        text = data.decode("utf-8", "replace")
        if text == self._last_playlist_text:
            return
        self._last_playlist_text = text
        try:
            pl = parse_playlist(text)
        except PlaylistError as e:
            with self.lock:
                self.errors.append(f"playlist does not parse ({e}):\n{text}")
            return
        # A playlist never names a segment its reader cannot fetch yet (DESIGN.md).
        for s in pl.segments:
            if not os.path.exists(os.path.join(self.camdir, s.uri)):
                with self.lock:
                    self.errors.append(f"playlist (seen {iso(now)}) names {s.uri}, "
                                       f"which is not on disk")
        with self.lock:
            self.snapshots.append((now, pl, self.run_number))

    # -- queries (call with or without the thread running) --

    def segment_records(self):
        with self.lock:
            return {n: r for n, r in self.files.items() if n.endswith(".ts")}

    def playlists(self):
        with self.lock:
            return list(self.snapshots)

    def latest(self):
        with self.lock:
            return self.snapshots[-1][1] if self.snapshots else None

    def all_segments(self):
        """msn -> (Segment as first listed, time first listed, run) over every version."""
        out = {}
        for t, pl, run in self.playlists():
            for s in pl.segments:
                if s.msn not in out:
                    out[s.msn] = (s, t, run)
        return out

    def unlisted_times(self):
        """msn -> time of the first playlist version that no longer listed it (removed from
        the head)."""
        out = {}
        listed = set()
        for t, pl, run in self.playlists():
            for s in pl.segments:
                listed.add(s.msn)
            for msn in listed:
                if msn < pl.media_sequence and msn not in out:
                    out[msn] = t
        return out


# ---------------------------------------------------------------------------
# ffprobe


def ffprobe_json(path, *args, timeout=None):
    cmd = [require_tool("ffprobe"), "-v", "error", "-of", "json", *args, path]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=timeout if timeout is not None else scaled(30))
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout or "{}")


def _hexdump_bytes(dump):
    """Bytes from ffprobe's -show_data hex dump ("00000000: 0000 0001 6742 ...  ascii")."""
    out = bytearray()
    for line in dump.splitlines():
        if ": " not in line:
            continue
        hexpart = line.split(": ", 1)[1][:41]
        out += bytes.fromhex("".join(ch for ch in hexpart if ch in "0123456789abcdefABCDEF"))
    return bytes(out)


def h264_nal_types(data):
    """NAL unit types of an Annex B byte stream."""
    types = []
    i = 0
    n = len(data)
    while i + 3 <= n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            if i + 3 < n:
                types.append(data[i + 3] & 0x1F)
            i += 3
        else:
            i += 1
    return types


@dataclass
class SegmentInfo:
    path: str
    format_name: str
    streams: list
    video: Optional[dict]
    audio: list
    video_pts: list                 # 90 kHz, presentation order
    audio_pts: list                 # 90 kHz, first audio stream
    first_packet_flags: str
    first_packet_nal_types: list
    first_frame_key: Optional[int]
    first_frame_pict_type: Optional[str]

    @property
    def frame_count(self):
        return len(self.video_pts)

    @property
    def frame_interval(self):
        d = sorted(b - a for a, b in zip(self.video_pts, self.video_pts[1:]))
        return d[len(d) // 2] / 90000.0 if d else None

    @property
    def max_frame_gap(self):
        d = [b - a for a, b in zip(self.video_pts, self.video_pts[1:])]
        return max(d) / 90000.0 if d else None

    @property
    def measured_fps(self):
        if len(self.video_pts) < 2:
            return None
        return (len(self.video_pts) - 1) / ((self.video_pts[-1] - self.video_pts[0]) / 90000.0)

    @property
    def duration(self):
        """Video duration: first frame to last frame plus one frame interval."""
        if not self.video_pts:
            return 0.0
        fi = self.frame_interval or 0.0
        return (self.video_pts[-1] - self.video_pts[0]) / 90000.0 + fi

    @property
    def start(self):
        return self.video_pts[0] / 90000.0 if self.video_pts else None


def probe_segment(path):
    meta = ffprobe_json(path, "-show_streams", "-show_format")
    streams = meta.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    video = videos[0] if videos else None
    pts = []
    flags = ""
    nals = []
    key = None
    pict = None
    if video is not None:
        pk = ffprobe_json(path, "-select_streams", "v:0", "-show_entries",
                          "packet=pts,dts,flags", "-show_packets")
        packets = pk.get("packets", [])
        pts = sorted(int(p["pts"]) for p in packets if p.get("pts") not in (None, "N/A"))
        if packets:
            flags = packets[0].get("flags", "")
        first = ffprobe_json(path, "-select_streams", "v:0", "-read_intervals", "%+#1",
                             "-show_packets", "-show_data", "-show_entries", "packet=data")
        fp = first.get("packets", [])
        if fp:
            nals = h264_nal_types(_hexdump_bytes(fp[0].get("data", "")))
        fr = ffprobe_json(path, "-select_streams", "v:0", "-read_intervals", "%+#1",
                          "-show_frames", "-show_entries", "frame=key_frame,pict_type")
        frames = fr.get("frames", [])
        if frames:
            key = frames[0].get("key_frame")
            pict = frames[0].get("pict_type")
    apts = []
    if audios:
        ak = ffprobe_json(path, "-select_streams", "a:0", "-show_entries", "packet=pts",
                          "-show_packets")
        apts = sorted(int(p["pts"]) for p in ak.get("packets", [])
                      if p.get("pts") not in (None, "N/A"))
    return SegmentInfo(path=path, format_name=meta.get("format", {}).get("format_name", ""),
                       streams=streams, video=video, audio=audios, video_pts=pts,
                       audio_pts=apts,
                       first_packet_flags=flags, first_packet_nal_types=nals,
                       first_frame_key=key, first_frame_pict_type=pict)


def probe_many(paths, workers=2):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as ex:
        return dict(zip(paths, ex.map(probe_segment, paths)))


def fraction(text):
    try:
        a, b = text.split("/")
        return int(a) / int(b) if int(b) else None
    except (ValueError, AttributeError):
        return None


# ---------------------------------------------------------------------------
# RTCP sender reports of the test camera (a minimal RTSP client, interleaved TCP)


def rtcp_sender_report_offsets(url, seconds, timeout=None):
    """Plays url for `seconds` and returns, for every video RTP packet received after the
    first RTCP sender report, arrival wall clock minus the wall clock the last sender report
    maps its RTP timestamp to (sender latency, seconds). Raises if no SR arrived."""
    m = re.match(r"rtsp://([^:/]+):(\d+)(/.*)", url)
    host, port = m.group(1), int(m.group(2))
    timeout = timeout if timeout is not None else scaled(10)
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    buf = b""
    cseq = [0]

    def request(method, uri, headers=()):
        nonlocal buf
        cseq[0] += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {cseq[0]}", "User-Agent: es-harness",
                 *headers, "", ""]
        sock.sendall("\r\n".join(lines).encode())
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"{method}: connection closed")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        head = head.decode()
        status = int(head.split()[1])
        hdrs = {}
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        body = b""
        length = int(hdrs.get("content-length", "0"))
        while len(buf) < length:
            buf += sock.recv(65536)
        body, buf = buf[:length], buf[length:]
        if status != 200:
            raise RuntimeError(f"{method} {uri}: RTSP status {status}")
        return hdrs, body.decode(errors="replace")

    try:
        hdrs, sdp = request("DESCRIBE", url, ["Accept: application/sdp"])
        base = hdrs.get("content-base", url + "/")
        control = None
        in_video = False
        clock = 90000
        for line in sdp.splitlines():
            if line.startswith("m="):
                in_video = line.startswith("m=video")
            elif in_video and line.startswith("a=control:"):
                control = line.split(":", 1)[1].strip()
            elif in_video and line.startswith("a=rtpmap:"):
                clock = int(line.split("/")[1])
        track = control if control.startswith("rtsp://") else base.rstrip("/") + "/" + control
        hdrs, _ = request("SETUP", track, ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
        session = hdrs["session"].split(";")[0]
        request("PLAY", url, [f"Session: {session}", "Range: npt=0.000-"])
        sr = None
        offsets = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">H", buf[2:4])[0]:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed while playing")
                buf += chunk
            if buf[0:1] != b"$":
                raise RuntimeError("unexpected data on the RTSP connection")
            channel = buf[1]
            length = struct.unpack(">H", buf[2:4])[0]
            pkt, buf = buf[4:4 + length], buf[4 + length:]
            now = time.time()
            if channel == 1:
                off = 0
                while off + 4 <= len(pkt):
                    pt = pkt[off + 1]
                    words = struct.unpack(">H", pkt[off + 2:off + 4])[0]
                    if pt == 200 and off + 20 <= len(pkt):
                        ntp_sec, ntp_frac, rtp_ts = struct.unpack(">IIi", pkt[off + 8:off + 20])
                        wall = ntp_sec - 2208988800 + ntp_frac / 2.0**32
                        sr = (wall, rtp_ts & 0xFFFFFFFF)
                    off += 4 * (words + 1)
            elif channel == 0 and sr is not None and len(pkt) >= 12:
                ts = struct.unpack(">I", pkt[4:8])[0]
                delta = ((ts - sr[1] + 2**31) % 2**32 - 2**31) / clock
                offsets.append(now - (sr[0] + delta))
        try:
            request("TEARDOWN", url, [f"Session: {session}"])
        except Exception:
            pass
        if sr is None:
            raise RuntimeError(f"no RTCP sender report within {seconds} s")
        return offsets
    finally:
        sock.close()


# ---------------------------------------------------------------------------
# Running


def run_tests(module_name="__main__"):
    """unittest.main() that prints every collected log when something failed, and makes
    sure nothing this test started is left running."""
    start = time.monotonic()
    ok = False

    def interrupted(signum, frame):
        # CTest's timeout (or a user) stops us: unwind so the finally below kills, by PID,
        # everything this test started.
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    try:
        prog = unittest.main(module=module_name, exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        kill_all_started()
        if not ok:
            print_logs()
        sys.stderr.write(f"wall time {time.monotonic() - start:.1f} s "
                         f"(ES_SANITIZE={'1' if SANITIZE else '0'})\n")
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# Checks shared by the tests. Each returns a list of problems (strings); empty = fine.

MAX_PROBLEMS_SHOWN = 25


def fail_if(testcase, problems, what):
    if problems:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        testcase.fail(f"{what}: {len(problems)} problem(s):\n  " + "\n  ".join(shown)
                      + (f"\n  ... and {more} more" if more else ""))


def segment_problems(name, info, *, width, height, fps, audio, target):
    """One segment against the contract: MPEG-TS, H.264 width x height at fps, AAC exactly
    when audio, starts with an IDR carrying SPS/PPS, lasts no longer than target."""
    p = []
    say = lambda msg: p.append(f"{name}: {msg}")
    if "mpegts" not in info.format_name:
        say(f"format {info.format_name!r}, not mpegts")
    v = info.video
    if v is None:
        say("no video stream")
        return p
    if v.get("codec_name") != "h264":
        say(f"video codec {v.get('codec_name')}, not h264")
    if (v.get("width"), v.get("height")) != (width, height):
        say(f"video {v.get('width')}x{v.get('height')}, not {width}x{height}")
    if info.frame_count == 0:
        say("no video frames")
    elif info.frame_count >= 3:     # (a segment flushed at a stop may hold one or two)
        mf = info.measured_fps
        if abs(mf - fps) > 0.03 * fps:
            say(f"{mf:.2f} fps measured from PTS, not {fps}")
        rf = fraction(v.get("r_frame_rate"))
        if rf is None or abs(rf - fps) > 0.02 * fps:
            say(f"r_frame_rate {v.get('r_frame_rate')}, not {fps}")
        if info.max_frame_gap > 2.5 / fps:
            say(f"a {info.max_frame_gap * 1000:.0f} ms gap between frames (dropped frames)")
    if audio:
        codecs = [a.get("codec_name") for a in info.audio]
        if codecs != ["aac"]:
            say(f"audio streams {codecs}, expected one AAC stream")
        # No AAC frame lost inside the segment: packets follow each other by one frame
        # duration (1024 samples), give or take the TS timestamp rounding.
        d = [b - a for a, b in zip(info.audio_pts, info.audio_pts[1:])]
        if len(d) >= 3:
            step = sorted(d)[len(d) // 2]
            worst = max(d)
            if worst > 1.5 * step:
                say(f"audio gap of {worst / 90:.0f} ms (frames {step / 90:.1f} ms apart): "
                    f"audio lost")
            if min(d) < 0.75 * step:
                say(f"audio frames only {min(d) / 90:.1f} ms apart (frames {step / 90:.1f} ms "
                    f"long): the audio timeline stepped back")
    elif info.audio:
        say(f"audio streams {[a.get('codec_name') for a in info.audio]}, expected none")
    # Invariant 1: starts with an IDR and carries what a decoder needs (SPS/PPS).
    if "K" not in info.first_packet_flags:
        say(f"first video packet not flagged key (flags {info.first_packet_flags!r})")
    nals = info.first_packet_nal_types
    if 5 not in nals:
        say(f"first video access unit has no IDR slice (NAL types {nals})")
    else:
        before = nals[:nals.index(5)]
        if 7 not in before or 8 not in before:
            say(f"no SPS+PPS before the first IDR slice (NAL types {nals})")
    if info.first_frame_key != 1 or info.first_frame_pict_type != "I":
        say(f"first decoded frame key_frame={info.first_frame_key} "
            f"pict_type={info.first_frame_pict_type}, not an I key frame")
    if info.duration > target + 0.5 / fps:
        say(f"lasts {info.duration:.3f} s, more than the target duration {target} s")
    return p


def listed_segment_problems(watcher, infos, fps, short_ok=()):
    """Segments against their playlist entries: EXTINF matches the media, PTS run on without
    a gap inside a discontinuity run, no segment is absurdly short (except msns in short_ok,
    e.g. the last before a discontinuity or a stop)."""
    p = []
    listed = watcher.all_segments()
    records = watcher.segment_records()
    by_name = {s.uri: s for s, _, _ in listed.values()}
    for name, rec in sorted(records.items()):
        if name not in by_name:
            p.append(f"{name} was written but never listed in a playlist")
    prev = None
    for msn in sorted(listed):
        s = listed[msn][0]
        rec = records.get(s.uri)
        info = infos.get(rec.copy) if rec else None
        if info is None or not info.video_pts:
            prev = None
            continue
        if abs(info.duration - s.duration) > 1.0 / fps + 0.01:
            p.append(f"{s.uri}: EXTINF {s.duration:.3f} but the video lasts {info.duration:.3f} s")
        if msn not in short_ok and s.duration < 0.5 * watcher.latest().target_duration:
            p.append(f"{s.uri}: only {s.duration:.3f} s long")
        if prev is not None and prev[0].msn == msn - 1 and not s.discontinuity:
            ps, pinfo = prev
            expected = pinfo.start + pinfo.duration
            gap = info.start - expected
            if abs(gap) > 1.5 / fps:
                p.append(f"{s.uri}: video starts {gap * 1000:+.0f} ms from where {ps.uri} ended, "
                         f"without EXT-X-DISCONTINUITY")
            if len(pinfo.audio_pts) >= 2 and info.audio_pts:
                step = pinfo.audio_pts[-1] - pinfo.audio_pts[-2]
                agap = info.audio_pts[0] - (pinfo.audio_pts[-1] + step)
                if abs(agap) > 1.5 * step:
                    p.append(f"{s.uri}: audio starts {agap / 90:+.0f} ms from where {ps.uri}'s "
                             f"audio ended, without EXT-X-DISCONTINUITY")
        prev = (s, info)
    return p


PDT_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def pdt_problems(watcher, fps, early=0.15, late=1.0, poll=0.05):
    """EXT-X-PROGRAM-DATE-TIME against the wall clock.

    The PDT of a segment is the capture time of its first frame, so the segment's media
    spans [pdt, pdt + EXTINF). The segment cannot be complete before its last frame was
    captured (pdt + EXTINF - one frame) and, when cut at the next IDR, before that next
    frame (pdt + EXTINF) was captured. It is written after that plus the delivery,
    decode, encode and mux latency, then renamed into place, then seen by our poll:

        pdt + EXTINF - one frame  <=  mtime  <=  appeared  <=  first_seen

    where mtime is the file's last write (before the rename) and first_seen is the poll
    that first saw the name (at most `poll` seconds after it appeared). So we check
        mtime - (pdt + EXTINF)           >= -(one frame + clock slack `early`)
            (below: the PDT claims media that did not exist yet: PDT too late), and
        first_seen - poll - (pdt + EXTINF) <= late   (1 s, the issue's bound)
            (above: the segment appeared more than 1 s after the wall clock its PDT says it
            ends at: PDT too early, or the pipeline too slow).
    Also: consecutive PDTs without a discontinuity differ by the EXTINF (players seek by
    it), and every PDT is written as ...THH:MM:SS.mmmZ. Returns (problems, lags) with lags
    the mtime-based values, for a summary."""
    p = []
    listed = watcher.all_segments()
    records = watcher.segment_records()
    lags = []
    prev = None
    lo = -(1.0 / fps + early)
    for msn in sorted(listed):
        s = listed[msn][0]
        if s.pdt is None:
            p.append(f"{s.uri}: no EXT-X-PROGRAM-DATE-TIME")
            prev = None
            continue
        if not PDT_TEXT.match(s.pdt_text):
            p.append(f"{s.uri}: PROGRAM-DATE-TIME {s.pdt_text!r} is not UTC with milliseconds")
        rec = records.get(s.uri)
        if rec is not None:
            end = s.pdt + s.duration
            lag = rec.mtime - end
            appeared_lag = rec.first_seen - poll - end
            lags.append(lag)
            if lag < lo:
                p.append(f"{s.uri}: PDT {s.pdt_text} + EXTINF {s.duration:.3f} ends "
                         f"{-lag:.3f} s after the file was written ({iso(rec.mtime)}); "
                         f"allowed {-lo:.3f} s")
            if appeared_lag > late:
                p.append(f"{s.uri}: appeared at {iso(rec.first_seen)}, {appeared_lag:.3f} s "
                         f"after PDT {s.pdt_text} + EXTINF {s.duration:.3f}; allowed {late:.3f} s")
        if prev is not None and prev.msn == msn - 1 and not s.discontinuity:
            step = s.pdt - prev.pdt
            if abs(step - prev.duration) > 0.1:
                p.append(f"{s.uri}: PDT advanced {step:.3f} s after a {prev.duration:.3f} s "
                         f"segment, without a discontinuity")
        if prev is not None and prev.msn == msn - 1 and s.pdt < prev.pdt + prev.duration - 0.1:
            p.append(f"{s.uri}: PDT {s.pdt_text} before the end of {prev.uri}")
        prev = s
    return p, lags


def playlist_history_problems(watcher):
    """Every parsed playlist version against the one before it (RFC 8216 §6.2.2)."""
    p = []
    pls = watcher.playlists()
    for (t0, a, r0), (t1, b, r1) in zip(pls, pls[1:]):
        for prob in check_playlist_update(a, b, same_process=(r0 == r1)):
            p.append(f"{iso(t0)} -> {iso(t1)}: {prob}")
    return p


def file_name_problems(watcher, prefix="segment_", playlist="stream.m3u8"):
    """Segment names match their msn (%03d), and nothing but the playlist and segments."""
    p = []
    for msn, (s, _, _) in sorted(watcher.all_segments().items()):
        if s.uri != f"{prefix}{msn:03d}.ts":
            p.append(f"msn {msn} is named {s.uri!r}, expected {prefix}{msn:03d}.ts")
    with watcher.lock:
        names = list(watcher.files)
    for n in names:
        if n != playlist and not re.fullmatch(re.escape(prefix) + r"\d{3,}\.ts", n):
            p.append(f"unexpected file {n!r}")
    return p


def dotfiles(path):
    try:
        return [n for n in os.listdir(path) if n.startswith(".")]
    except FileNotFoundError:
        return []


def wait_event(daemon, camera_id, event, timeout, after_line=0):
    """Waits for a log line with camera=<id> event=<event>; returns (index, line, time seen,
    parsed)."""
    def find():
        lines = daemon.log_lines()
        for i in range(after_line, len(lines)):
            parsed = parse_log_line(lines[i])
            if parsed and parsed[3].get("camera") == camera_id and parsed[3].get("event") == event:
                return (i, lines[i], time.time(), parsed)
        return None
    return wait_for(find, timeout, interval=0.02, what=f"camera={camera_id} event={event} in the log")


def log_time(parsed):
    text = parsed[0]
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    dt = datetime.datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.astimezone()        # local time without an offset
    return dt.timestamp()


def log_format_problems(daemon):
    p = []
    for i, line in enumerate(daemon.all_log_lines(), 1):
        if not line.strip():
            continue
        if parse_log_line(line) is None:
            p.append(f"stderr line {i} is not '<ISO time> <LEVEL> <component> key=value...': "
                     f"{line[:200]!r}")
    return p
