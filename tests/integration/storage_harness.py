"""Machinery for the storage-sink integration tests (issue 3), on top of harness.py.

  - Emulator: tests/tools/supabase_emulator.py started by PID, its control API
    (faults, outage, stats, write log, objects, buckets, keys);
  - S3rver: the npm `s3rver` package (a real S3 implementation that checks SigV4
    signatures) from tests/s3/node_modules, installed by `npm ci` (tests/s3);
  - PlaylistChecker: a thread that reads the public playlist every `interval` seconds
    the way a player does, fetches every segment it names the moment it is named, checks
    each object's headers and bytes, and fetches each segment again when it leaves the
    playlist (it must still be there: the grace period);
  - RssSampler: the daemon's resident memory over time;
  - storage_config: cameras.yaml in the mapping form with storage backends;
  - secrets_in_files: the key grep over every log and output of a test.

Standard library only.
"""

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

EMULATOR = os.path.join(h.SOURCE_DIR, "tests", "tools", "supabase_emulator.py")
S3_DIR = os.path.join(h.SOURCE_DIR, "tests", "s3")

SEGMENT_TYPE = "video/mp2t"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SEGMENT_CACHE = "public, max-age=31536000, immutable"
PLAYLIST_CACHE = "no-cache"


def new_key(prefix="sk_test_"):
    """A fresh secret, long and unique enough that a grep for it cannot match by chance."""
    return prefix + secrets.token_hex(24)


def _read_lines_until(proc, deadline, want):
    """Lines of proc's stdout until every prefix in `want` was seen. Returns {prefix: rest}."""
    found = {}
    while len(found) < len(want):
        line = h._read_line(proc, deadline)
        if line is None:
            raise RuntimeError(f"no {sorted(set(want) - set(found))} line before the timeout")
        for w in want:
            if line.startswith(w + " "):
                found[w] = line[len(w) + 1:].strip()
    return found


# ---------------------------------------------------------------------------
# The Supabase Storage emulator


class Emulator:
    """supabase_emulator.py on loopback, keys passed through the environment (not argv)."""

    def __init__(self, workdir, service_key, label="emulator", bucket="streams", public=True,
                 allowed_mime=(SEGMENT_TYPE, PLAYLIST_TYPE), file_size_limit="20MB",
                 extra_args=(), anon_key=None):
        self.workdir = workdir
        self.label = label
        self.service_key = service_key
        self.anon_key = anon_key
        self.args = ["--port", "0", "--control-port", "0"]
        if bucket:
            self.args += ["--bucket", bucket]
        if public:
            self.args.append("--public")
        if allowed_mime:
            self.args += ["--allowed-mime", ",".join(allowed_mime)]
        if file_size_limit:
            self.args += ["--file-size-limit", file_size_limit]
        self.args += list(extra_args)
        self.proc = None
        self.url = None
        self.control = None
        self.log_path = os.path.join(workdir, f"{label}.log")
        h.LOG_FILES.append((label, self.log_path))

    def start(self):
        env = dict(os.environ)
        env["SUPABASE_EMULATOR_SERVICE_KEY"] = self.service_key
        if self.anon_key:
            env["SUPABASE_EMULATOR_ANON_KEY"] = self.anon_key
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([sys.executable, EMULATOR, *self.args], stdout=subprocess.PIPE,
                                     stderr=log, stdin=subprocess.DEVNULL, env=env)
        log.close()
        h._register(self.proc)
        found = _read_lines_until(self.proc, time.monotonic() + h.scaled(15), ["control", "ready"])
        self.url = found["ready"]
        self.control = found["control"]
        return self.url

    def stop(self):
        if self.proc is not None:
            h._stop_process(self.proc, signal.SIGTERM, 10)
            self.proc = None

    # -- the control API (its own port: it stays up during an outage) --
    def _call(self, method, path, body=None, timeout=10):
        u = urllib.parse.urlsplit(self.control)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, "/__control/" + path, body=data, headers=headers)
            r = conn.getresponse()
            text = r.read()
            if r.status >= 300:
                raise RuntimeError(f"control {method} {path}: {r.status} {text[:200]!r}")
            return json.loads(text) if text else None
        finally:
            conn.close()

    def stats(self):
        return self._call("GET", "stats")

    def objects(self):
        return self._call("GET", "objects")["objects"]

    def set_faults(self, spec):
        return self._call("POST", "faults", spec)

    def clear_faults(self):
        return self._call("POST", "faults", {})

    def outage(self, seconds):
        return self._call("POST", "outage", {"seconds": seconds})

    def release(self):
        return self._call("POST", "release", {})

    def delete_bucket(self, name):
        return self._call("DELETE", f"buckets/{name}")

    def create_bucket(self, name, public=True, allowed_mime=(SEGMENT_TYPE, PLAYLIST_TYPE)):
        return self._call("POST", "buckets", {"name": name, "public": public,
                                              "allowed_mime_types": list(allowed_mime)})

    def set_service_key(self, key):
        return self._call("POST", "keys", {"service_key": key})

    def public_url(self, name, bucket="streams"):
        return f"{self.url}/storage/v1/object/public/{bucket}/{name}"

    def requests(self, stats=None):
        """Storage API requests so far, without the checker's public reads."""
        s = stats or self.stats()
        return sum(v["requests"] for k, v in s["routes"].items() if "/object/public/" not in k)


# ---------------------------------------------------------------------------
# s3rver


class S3rver:
    """The npm s3rver (tests/s3), a real S3 implementation: SigV4 is checked (its
    credentials are S3RVER / S3RVER), objects live in a directory."""

    ACCESS_KEY = "S3RVER"
    SECRET_KEY = "S3RVER"

    def __init__(self, workdir, bucket="streams", label="s3rver"):
        self.workdir = workdir
        self.bucket = bucket
        self.label = label
        self.data = os.path.join(workdir, "s3data")
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, f"{label}.log")
        h.LOG_FILES.append((label, self.log_path))

    @staticmethod
    def binary():
        path = os.path.join(S3_DIR, "node_modules", ".bin", "s3rver")
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{path} is missing: run `npm ci` in {S3_DIR} (CTest's "
                               f"s3.npm_ci does)")
        return path

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        cmd = [self.binary(), "-d", self.data, "-a", "127.0.0.1", "-p", "0",
               "--configure-bucket", self.bucket, "--service-endpoint", "localhost"]
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        h._register(self.proc)
        deadline = time.monotonic() + h.scaled(30)
        while True:
            line = h._read_line(self.proc, deadline)
            if line is None:
                raise RuntimeError("s3rver did not say where it listens")
            with open(self.log_path, "a") as f:
                f.write(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        # Keep draining its stdout so it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        return self.port

    def _drain(self):
        try:
            with open(self.log_path, "ab") as f:
                for line in self.proc.stdout:
                    f.write(line)
        except (OSError, ValueError):
            pass

    def stop(self):
        if self.proc is not None:
            h._stop_process(self.proc, signal.SIGTERM, 10)
            self.proc = None

    def get(self, key, method="GET"):
        """(status, headers, body) of an unsigned request (s3rver serves them)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, f"/{self.bucket}/{urllib.parse.quote(key)}")
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def keys(self, prefix=""):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", f"/{self.bucket}?list-type=2&prefix={urllib.parse.quote(prefix)}")
            body = conn.getresponse().read().decode()
        finally:
            conn.close()
        return re.findall(r"<Key>([^<]*)</Key>", body)


class SigV4Proxy:
    """tests/s3/sigv4-proxy.js in front of an S3rver: checks every SigV4 signature with
    AWS's own signer (@smithy/signature-v4), which s3rver itself does not (its source:
    "Signature version 4 calculation is unimplemented"), and forwards good requests."""

    def __init__(self, workdir, upstream_port, label="sigv4-proxy"):
        self.workdir = workdir
        self.upstream_port = upstream_port
        self.label = label
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, f"{label}.log")
        h.LOG_FILES.append((label, self.log_path))

    def start(self):
        S3rver.binary()  # node_modules present
        env = dict(os.environ)
        env["SIGV4_PROXY_ACCESS_KEY"] = S3rver.ACCESS_KEY
        env["SIGV4_PROXY_SECRET_KEY"] = S3rver.SECRET_KEY
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([h.require_tool("node"), os.path.join(S3_DIR, "sigv4-proxy.js"),
                                      "--upstream-port", str(self.upstream_port)],
                                     stdout=subprocess.PIPE, stderr=log,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()
        h._register(self.proc)
        found = _read_lines_until(self.proc, time.monotonic() + h.scaled(20), ["ready"])
        self.port = int(found["ready"].rsplit(":", 1)[1])
        return self.port

    def stop(self):
        if self.proc is not None:
            h._stop_process(self.proc, signal.SIGTERM, 10)
            self.proc = None

    def stats(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/__sigv4/stats")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()


# ---------------------------------------------------------------------------
# The public playlist, read as a player reads it


@dataclass
class Fetch:
    name: str
    time: float
    status: Optional[int]          # None: no HTTP answer (store unreachable)
    error: Optional[str]
    content_type: Optional[str] = None
    cache_control: Optional[str] = None
    sha256: Optional[str] = None
    size: int = 0
    again: bool = False            # the re-fetch after the segment left the playlist


@dataclass
class PlaylistSeen:
    time: float
    playlist: object               # harness.Playlist


class PlaylistChecker(threading.Thread):
    """Polls `playlist_url` every `interval` s; fetches every segment it names once, when it
    is first named, and once more when it leaves the playlist. base_url + name = a segment's
    URL. Uses one keep-alive connection, reconnecting when it drops (as a browser would).

    torn_overwrites: the store overwrites an object in place, not atomically, so a read
    that races a PUT may see it half-written. s3rver does (lib/stores/filesystem.js:
    putObject truncates the object file and putMetadata rewrites metadata.json in place;
    a GET that reads the empty JSON answers 500 InternalError). Real S3 and Supabase
    replace an object atomically. With it set, a read answered 500 or not parsing is read
    once more 0.1 s later: the daemon's next playlist is ~a segment away, so a second
    failure is a real one and is reported; a good second read counts in torn_reads."""

    def __init__(self, playlist_url, base_url, interval=0.2, refetch=True, keep_bodies=0,
                 torn_overwrites=False):
        super().__init__(daemon=True)
        self.torn_overwrites = torn_overwrites
        self.torn_reads = 0
        self.playlist_url = playlist_url
        self.base_url = base_url
        self.interval = interval
        self.refetch = refetch
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        self.versions = []          # PlaylistSeen for every distinct text
        self.fetches = []           # Fetch
        self.playlist_errors = []   # (time, what)
        self.polls = 0
        self.unreachable = 0        # polls without an HTTP answer
        self.first_listed = {}      # msn -> time first named
        self.bodies = {}            # name -> bytes (the first keep_bodies segments)
        self._stop_event = threading.Event()
        self._conn = None
        self._named = set()
        self._last_text = None

    def _request(self, url):
        u = urllib.parse.urlsplit(url)
        for attempt in range(2):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
                self._conn.request("GET", u.path, headers={"Accept-Encoding": "identity"})
                r = self._conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self._conn.close()
                    self._conn = None
                return r.status, {k.lower(): v for k, v in r.getheaders()}, body
            except (OSError, http.client.HTTPException) as e:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                if attempt == 1:
                    raise e
        raise RuntimeError("unreachable")

    def _fetch(self, name, again=False):
        t = time.time()
        try:
            status, headers, body = self._request(self.base_url + name)
        except (OSError, http.client.HTTPException) as e:
            f = Fetch(name, t, None, f"{type(e).__name__}: {e}", again=again)
        else:
            f = Fetch(name, t, status, None if status == 200 else body[:200].decode("utf-8", "replace"),
                      headers.get("content-type"), headers.get("cache-control"),
                      hashlib.sha256(body).hexdigest(), len(body), again)
            if status == 200 and len(self.bodies) < self.keep_bodies and not again:
                self.bodies[name] = body
        with self.lock:
            self.fetches.append(f)

    def _torn(self, status, body):
        if status == 500:
            return True
        try:
            h.parse_playlist(body.decode("utf-8", "replace"))
        except h.PlaylistError:
            return True
        return False

    def poll(self):
        t = time.time()
        self.polls += 1
        try:
            status, headers, body = self._request(self.playlist_url)
            if self.torn_overwrites and self._last_text is not None and self._torn(status, body):
                time.sleep(0.1)
                status, headers, body = self._request(self.playlist_url)
                if status == 200 and not self._torn(status, body):
                    self.torn_reads += 1
        except (OSError, http.client.HTTPException):
            self.unreachable += 1
            return
        if status != 200:
            if self._last_text is not None:
                with self.lock:
                    self.playlist_errors.append((t, f"playlist answered {status}: {body[:200]!r}"))
            return
        text = body.decode("utf-8", "replace")
        if text == self._last_text:
            return
        self._last_text = text
        try:
            pl = h.parse_playlist(text)
        except h.PlaylistError as e:
            with self.lock:
                self.playlist_errors.append((t, f"does not parse: {e}\n{text}"))
            return
        ctype = headers.get("content-type")
        cache = headers.get("cache-control")
        if ctype != PLAYLIST_TYPE or cache != PLAYLIST_CACHE:
            with self.lock:
                self.playlist_errors.append((t, f"playlist served as {ctype!r} / {cache!r}"))
        previous = self.versions[-1].playlist if self.versions else None
        with self.lock:
            self.versions.append(PlaylistSeen(t, pl))
            for s in pl.segments:
                self.first_listed.setdefault(s.msn, t)
        for s in pl.segments:
            if s.uri not in self._named:
                self._named.add(s.uri)
                self._fetch(s.uri)
        if self.refetch and previous is not None:
            now_listed = {s.uri for s in pl.segments}
            for s in previous.segments:
                if s.uri not in now_listed:
                    self._fetch(s.uri, again=True)

    def run(self):
        while not self._stop_event.is_set():
            start = time.monotonic()
            try:
                self.poll()
            except Exception as e:  # keep polling; report at the end
                with self.lock:
                    self.playlist_errors.append((time.time(), f"checker exception: {e!r}"))
            self._stop_event.wait(max(0.0, self.interval - (time.monotonic() - start)))

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)
        if self._conn is not None:
            self._conn.close()

    # -- results --
    def latest(self):
        with self.lock:
            return self.versions[-1].playlist if self.versions else None

    def segment_fetches(self):
        with self.lock:
            return [f for f in self.fetches]

    def update_problems(self):
        """RFC 8216 §6.2.2 between consecutive versions (harness.check_playlist_update)."""
        p = []
        with self.lock:
            vs = list(self.versions)
        for a, b in zip(vs, vs[1:]):
            for prob in h.check_playlist_update(a.playlist, b.playlist, same_process=False):
                p.append(f"{h.iso(a.time)} -> {h.iso(b.time)}: {prob}")
        return p

    def header_problems(self, fetches=None):
        p = []
        for f in fetches if fetches is not None else self.segment_fetches():
            if f.status != 200:
                continue
            if f.content_type != SEGMENT_TYPE:
                p.append(f"{f.name}: Content-Type {f.content_type!r}, expected {SEGMENT_TYPE}")
            if f.cache_control != SEGMENT_CACHE:
                p.append(f"{f.name}: Cache-Control {f.cache_control!r}, expected {SEGMENT_CACHE!r}")
        return p

    def listed_at(self, msn):
        with self.lock:
            return self.first_listed.get(msn)

    def reached(self, msn, after):
        """The time of the first playlist version read at or after `after` whose newest
        segment is `msn` or later (None if none yet)."""
        with self.lock:
            for v in self.versions:
                if v.time >= after and v.playlist.segments and \
                        v.playlist.segments[-1].msn >= msn:
                    return v.time
        return None

    def last_msn_at(self, t):
        """The newest msn the public playlist named at time t (None before the first)."""
        with self.lock:
            best = None
            for v in self.versions:
                if v.time <= t and v.playlist.segments:
                    best = v.playlist.segments[-1].msn
            return best


# ---------------------------------------------------------------------------
# Memory


class RssSampler(threading.Thread):
    def __init__(self, pid, interval=0.5):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []            # (time, kB)
        self._stop_event = threading.Event()

    def rss_kb(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def run(self):
        while not self._stop_event.is_set():
            v = self.rss_kb()
            if v is not None:
                self.samples.append((time.time(), v))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=5)

    def max_between(self, t0, t1):
        vs = [v for t, v in self.samples if t0 <= t <= t1]
        return max(vs) if vs else None

    def median_between(self, t0, t1):
        vs = sorted(v for t, v in self.samples if t0 <= t <= t1)
        return vs[len(vs) // 2] if vs else None


# ---------------------------------------------------------------------------
# Configuration and secrets


def _scalar(v):
    return h._yaml_scalar(v)


def storage_config(path, cameras, backends, origin=None):
    """cameras.yaml in the mapping form. backends: a list of dicts, each with `backend`
    and that backend's keys (the keys themselves normally come from the environment).
    origin: the origin section's keys, or None for the defaults."""
    lines = ["# written by tests/integration/storage_harness.py", "storage:"]
    for b in backends:
        first = True
        for k, v in b.items():
            lines.append(f"  {'- ' if first else '  '}{k}: {_scalar(v)}")
            first = False
    if origin:
        lines.append("origin:")
        lines += [f"  {k}: {_scalar(v)}" for k, v in origin.items()]
    lines.append("cameras:")
    for cam in cameras:
        lines += h._camera_yaml(cam, 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    h.LOG_FILES.append(("config " + os.path.basename(path), path))
    return path


def secrets_in_files(root, secret_values):
    """Every (file, secret index) under root whose bytes contain a secret. The config file
    never holds one in these tests (keys come from the environment)."""
    hits = []
    needles = [s.encode() for s in secret_values if s]
    for dirpath, _, names in os.walk(root):
        for n in names:
            path = os.path.join(dirpath, n)
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            for i, needle in enumerate(needles):
                if needle in data:
                    hits.append((path, i))
    return hits


def log_events(daemon, event, level=None):
    """Parsed log lines (of every run) with event=<event> (and the given level)."""
    out = []
    for line in daemon.all_log_lines():
        p = h.parse_log_line(line)
        if p and p[3].get("event") == event and (level is None or p[1] == level):
            out.append(p)
    return out


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
