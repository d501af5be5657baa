#!/usr/bin/env python3
"""`make soak`: edgestream for a long run under churn, watched for leaks and bad playlists
(issue 13, "The box runs for days"). Not part of `make test`. Python standard library only.

    bench/soak.py [BUILD_DIR]          (default build/; or ES_BINARY / ES_TESTCAM)
    SOAK_MINUTES=3 bench/soak.py build (a short trial; default 30)

One daemon streams four test cameras (each its own es-testcam on loopback):
  cam_x264   transcoded (x264, 426 px wide);
  cam_copy   passed through;
  cam_ll     Low-Latency HLS (profile `ll`, 0.2 s parts), transcoded;
  cam_audio  passed through, with AAC audio.
Every camera is stored twice: the local sink (a temp dir) and the Supabase Storage
emulator (tests/tools/supabase_emulator.py). Meanwhile:
  - a camera flap every 3 minutes: one camera's es-testcam is SIGKILLed and restarted on the
    same port 10 s later (the four take turns);
  - a storage outage every 5 minutes: the emulator closes its listening socket for 60 s
    (connection refused, as a dead network or a stopped server gives), then reopens it;
  - 50 LL viewers of cam_ll: bench/fanout_ll.c's es-fanout, run in 60 s rounds (a viewer
    that failed in one round is a new viewer in the next);
  - every 10 s: the daemon's RSS, open file descriptors and threads (/proc/PID);
  - every second, every camera's local playlist; every 5 s, every camera's playlist in
    storage. A poll is invalid when the playlist does not parse (the strict RFC 8216 parser
    of tests/integration/harness.py) or names a segment that does not exist (a file on
    disk; a HEAD that is not 200 in storage). A storage poll refused during an outage is
    counted as unreachable, not invalid.

At the end: least-squares slopes of RSS, fds and threads after a warm-up (5 minutes; a
third of a shorter run), per hour; the goal is RSS < 1 MiB/hour. The result goes to
bench/RESULTS.md (its own section, replaced on the next run) for runs of 30 minutes or more,
or with SOAK_RECORD=1; shorter runs print it only. The full run log stays in the work
directory (printed at the end; SOAK_KEEP=0 removes it).
"""

import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
# The churn's pace; the environment may quicken it for a short trial of the machinery
# (SOAK_FLAP_S=60 SOAK_OUTAGE_S=90 SOAK_OUTAGE_FOR_S=20 SOAK_MINUTES=3).
FLAP_EVERY = float(os.environ.get("SOAK_FLAP_S", "180"))
FLAP_DOWN = 10.0
OUTAGE_EVERY = float(os.environ.get("SOAK_OUTAGE_S", "300"))
OUTAGE_FOR = float(os.environ.get("SOAK_OUTAGE_FOR_S", "60"))
SAMPLE_EVERY = 10.0
LOCAL_POLL_EVERY = 1.0
REMOTE_POLL_EVERY = 5.0
VIEWERS = 50
VIEWER_ROUND = 60.0
RESULTS = os.path.join(HERE, "RESULTS.md")
SECTION = "## Soak: a long run under churn (issue 13)"


def find_binaries():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE_DIR, "build")
    build = os.path.abspath(build)
    os.environ.setdefault("ES_BINARY", os.path.join(build, "edgestream"))
    os.environ.setdefault("ES_TESTCAM", os.path.join(build, "tests", "es-testcam"))
    fanout = os.environ.get("ES_FANOUT", os.path.join(build, "es-fanout"))
    for path in (os.environ["ES_BINARY"], os.environ["ES_TESTCAM"], fanout):
        if not os.access(path, os.X_OK):
            sys.exit(f"soak: {path} is missing: build first (make build), or name the build "
                     f"folder: bench/soak.py BUILD_DIR")
    return fanout


FANOUT = find_binaries()
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402


def build_name():
    build = os.path.dirname(os.path.abspath(os.environ["ES_BINARY"]))
    rel = os.path.relpath(build, SOURCE_DIR)
    return build if rel.startswith("..") else rel


def utc(t=None):
    return datetime.datetime.fromtimestamp(t if t is not None else time.time(),
                                           datetime.timezone.utc)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def slope_per_hour(points):
    """Least-squares slope of (t seconds, value) points, per hour; None when < 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in points) / den * 3600.0


class ProcSampler(threading.Thread):
    """RSS (kB), open fds and threads of one process, every `interval` seconds."""

    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []       # (time, rss_kb, fds, threads, load)
        self._stop_event = threading.Event()

    def sample(self):
        rss = threads = None
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
            fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return
        if rss is not None and threads is not None:
            self.samples.append((time.time(), rss, fds, threads, load_average()))

    def run(self):
        while True:
            self.sample()
            if self._stop_event.wait(self.interval):
                return

    def stop(self):
        self._stop_event.set()
        self.join(10)


class PlaylistPolls(threading.Thread):
    """Polls every camera's local playlist (every LOCAL_POLL_EVERY) and the stored one
    (every REMOTE_POLL_EVERY); counts polls and records every invalid one."""

    def __init__(self, root, cams, emulator):
        super().__init__(daemon=True)
        self.root = root
        self.cams = cams
        self.emu = emulator
        self.polls = {"local": 0, "storage": 0}
        self.invalid = []           # (time, where, camera, problem)
        self.unreachable = 0
        self.missing = {"local": 0, "storage": 0}   # no playlist yet (start-up)
        self._stop_event = threading.Event()

    def _invalid(self, where, cam, problem):
        self.invalid.append((time.time(), where, cam, problem))

    def poll_local(self, cam):
        camdir = os.path.join(self.root, "location_1", cam)
        try:
            with open(os.path.join(camdir, "stream.m3u8")) as f:
                text = f.read()
        except FileNotFoundError:
            self.missing["local"] += 1
            return
        self.polls["local"] += 1
        try:
            pl = h.parse_playlist(text)
        except h.PlaylistError as e:
            return self._invalid("local", cam, f"does not parse: {e}")
        gone = [s.uri for s in pl.segments if not os.path.exists(os.path.join(camdir, s.uri))]
        if gone:
            self._invalid("local", cam, f"names missing {', '.join(gone)}")

    def poll_storage(self, cam, conn):
        prefix = f"/storage/v1/object/public/streams/location_1/{cam}/"
        try:
            conn.request("GET", prefix + "stream.m3u8")
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                self.missing["storage"] += 1
                return
            self.polls["storage"] += 1
            try:
                pl = h.parse_playlist(body.decode("utf-8", "replace"))
            except h.PlaylistError as e:
                return self._invalid("storage", cam, f"does not parse: {e}")
            gone = []
            for s in pl.segments:
                conn.request("HEAD", prefix + s.uri)
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    gone.append(f"{s.uri} ({r.status})")
            if gone:
                self._invalid("storage", cam, f"names missing {', '.join(gone)}")
        except (OSError, http.client.HTTPException):
            self.unreachable += 1
            conn.close()

    def run(self):
        u = urllib.parse.urlsplit(self.emu.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        next_remote = time.monotonic()
        while not self._stop_event.wait(LOCAL_POLL_EVERY):
            for cam in self.cams:
                self.poll_local(cam)
            if time.monotonic() >= next_remote:
                next_remote += REMOTE_POLL_EVERY
                for cam in self.cams:
                    self.poll_storage(cam, conn)
        conn.close()

    def stop(self):
        self._stop_event.set()
        self.join(30)


class Viewers(threading.Thread):
    """es-fanout in VIEWER_ROUND rounds of VIEWERS LL viewers until stopped."""

    def __init__(self, base, cam, workdir, until):
        super().__init__(daemon=True)
        self.base = base
        self.cam = cam
        self.workdir = workdir
        self.until = until
        self.rounds = []            # es-fanout's JSON summaries
        self.bad_rounds = []        # (exit status, stderr tail)
        self.proc = None
        self.ended_at = None        # time.time() when the last round ended
        self._stop_event = threading.Event()

    def run(self):
        try:
            self._rounds()
        finally:
            self.ended_at = time.time()

    def _rounds(self):
        while not self._stop_event.is_set():
            left = self.until - time.monotonic()
            if left < 15:
                return
            seconds = min(VIEWER_ROUND, left - 5)
            err_path = os.path.join(self.workdir, "es-fanout.stderr")
            with open(err_path, "a") as err:
                self.proc = subprocess.Popen(
                    ["nice", "-n", "10", FANOUT, "--base", self.base, "--camera", self.cam,
                     "--viewers", str(VIEWERS), "--seconds", str(int(seconds)),
                     "--warmup", "2", "--ramp-ms", "1000"],
                    stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
                h._register(self.proc)
                try:
                    out, _ = self.proc.communicate(timeout=seconds + 60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    out, _ = self.proc.communicate()
                h._reap(self.proc)
            try:
                self.rounds.append(json.loads(out.decode()))
            except ValueError:
                self.bad_rounds.append((self.proc.returncode, out[-300:]))
                self._stop_event.wait(5)

    def stop(self):
        self._stop_event.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.join(90)


def write_config(path, cams, root, emu_url):
    lines = ["# written by bench/soak.py",
             "storage:",
             "  - backend: local",
             f"    root: {h._yaml_scalar(root)}",
             "  - backend: supabase",
             f"    url: {h._yaml_scalar(emu_url)}",
             "    max_backlog_mb: 16",
             "    delete_interval_s: 5",
             "origin:",
             "  listen: 127.0.0.1:0",
             "  webrtc:",
             "    enabled: false",
             "cameras:"]
    for cam in cams:
        lines += h._camera_yaml(cam, 2)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def camera_setups():
    """(camera id, es-testcam arguments, camera settings)."""
    small = ["--width", "640", "--height", "360", "--fps", "15", "--gop", "15",
             "--bitrate", "600"]
    return [
        ("cam_x264", small + ["--no-audio"],
         dict(target_width=426, target_fps=15, segment_duration=2, segments_to_keep=5)),
        ("cam_copy", small + ["--no-audio"],
         dict(transcode="copy", segment_duration=1, segments_to_keep=5)),
        ("cam_ll", small + ["--no-audio"],
         dict(profile="ll", target_width=426, target_fps=15)),
        ("cam_audio", small,
         dict(transcode="copy", segment_duration=2, segments_to_keep=5)),
    ]


def summarize(stats):
    s = stats
    lines = [SECTION, ""]
    lines.append(
        f"Run {s['started']:%Y-%m-%d %H:%M} to {s['ended']:%H:%M} UTC by `bench/soak.py` "
        f"(`make soak`), {s['minutes']:.0f} minutes, build `{s['build']}` (RelWithDebInfo), "
        f"daemon at nice 5. Machine: {os.cpu_count()} cores, {platform.platform()}; shared "
        f"with other sessions' builds and tests: load average {s['load_start']} at the "
        f"start, {s['load_end']} at the end, {s['load_min']}-{s['load_max']} (1 min) over "
        f"the samples.  ")
    lines.append(
        "Four cameras (es-testcam 640×360 15 fps on loopback): `cam_x264` transcoded to "
        "426 px, `cam_copy` passed through (1 s segments), `cam_ll` profile `ll` (0.2 s "
        "parts) transcoded, `cam_audio` passed through with AAC; every camera stored on the "
        "local disk and in the Supabase Storage emulator. "
        f"A camera flap every {FLAP_EVERY / 60:.0f} min (es-testcam SIGKILLed, back "
        f"{FLAP_DOWN:.0f} s later on the same port, the cameras in turn): {s['flaps']} flaps. "
        f"A storage outage every {OUTAGE_EVERY / 60:.0f} min (the emulator refuses "
        f"connections for {OUTAGE_FOR:.0f} s): {s['outages']} outages. "
        f"{VIEWERS} LL viewers of `cam_ll` (es-fanout, {VIEWER_ROUND:.0f} s rounds).")
    lines.append("")
    lines.append(f"**Growth after a {s['warmup_min']:.0f} min warm-up** (least squares over "
                 f"{s['samples_after']} samples, one every {SAMPLE_EVERY:.0f} s, up to the "
                 "viewers' last round; goal: RSS < 1 MiB per hour)")
    lines.append("")
    lines.append("| measure | at warm-up end | at the end | min | max | slope per hour |")
    lines.append("|---|---|---|---|---|---|")
    for name, key, unit, fmt in (("RSS", "rss", "MiB", "{:.1f}"), ("open fds", "fds", "", "{:.0f}"),
                                 ("threads", "threads", "", "{:.0f}")):
        m = s["measures"][key]
        slope = m["slope"]
        slope_text = "n/a" if slope is None else (f"**{slope:+.2f} {unit}**" if unit
                                                   else f"**{slope:+.2f}**")
        u = f" {unit}" if unit else ""
        lines.append(f"| {name} | {fmt.format(m['first'])}{u} | {fmt.format(m['last'])}{u} | "
                     f"{fmt.format(m['min'])}{u} | {fmt.format(m['max'])}{u} | {slope_text} |")
    lines.append("")
    p = s["polls"]
    lines.append(f"**Playlist polls** (goal: no invalid poll): local {p['local']} polls, "
                 f"**{p['invalid_local']} invalid**; storage {p['storage']} polls, "
                 f"**{p['invalid_storage']} invalid**, {p['unreachable']} refused during "
                 f"outages.")
    for t, where, cam, problem in s["invalid_examples"]:
        lines.append(f"- {utc(t):%H:%M:%S} {where} {cam}: {problem}")
    lines.append("")
    v = s["viewers"]
    lines.append(f"**LL viewers**: {v['rounds']} rounds of {VIEWERS}; viewers held (every part "
                 f"within 100 ms) per round: min {v['held_min']}, median {v['held_median']}; "
                 f"parts delivered {v['delivered']}, late {v['late']}, skipped {v['skipped']}, "
                 f"request errors {v['errors']}; rounds without a summary: {v['bad_rounds']}.")
    lines.append("")
    lines.append(f"**Daemon**: {s['daemon_end']}. Log lines by level: {s['levels']}; "
                 f"ERROR/WARN events: {s['events'] or 'none'}.")
    lines.append("")
    return "\n".join(lines) + "\n"


def record(section):
    with open(RESULTS) as f:
        text = f.read()
    start = text.find(SECTION)
    if start >= 0:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + (text[end + 1:] if end >= 0 else "")
    if not text.endswith("\n\n"):
        text = text.rstrip("\n") + "\n\n"
    with open(RESULTS, "w") as f:
        f.write(text + section)


def main():
    duration = MINUTES * 60.0
    warmup = min(300.0, duration / 3.0)
    wd = tempfile.mkdtemp(prefix="es-soak-")
    root = os.path.join(wd, "root")
    started = time.time()
    load_start = load_average()
    print(f"soak: {MINUTES:g} minutes, work directory {wd}, load {load_start}", flush=True)
    setups = camera_setups()
    testcams = {}
    emu = None
    daemon = None
    sampler = polls = viewers = None
    stats = {}
    flaps = outages = 0
    try:
        for cam_id, args, _ in setups:
            audio = "--no-audio" not in args
            cam = h.TestCam(wd, cam_id, path=f"/{cam_id}", audio=audio,
                            extra_args=[a for a in args if a != "--no-audio"])
            cam.start()
            testcams[cam_id] = cam
        key = sh.new_key()
        emu = sh.Emulator(wd, key, file_size_limit="50MB")
        emu.start()
        config = write_config(
            os.path.join(wd, "cameras.yaml"),
            [h.camera(cid, testcams[cid].url, **settings) for cid, _, settings in setups],
            root, emu.url)
        os.environ["SUPABASE_KEY"] = key
        try:
            daemon = h.Daemon(wd, ["--config", config, "--all", "--quiet"])
            daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        os.setpriority(os.PRIO_PROCESS, daemon.pid, 5)
        _, line, _ = daemon.wait_log(r"origin event=listening url=", 20)
        base = re.search(r"url=(\S+)", line).group(1)
        if not base.endswith("/"):
            base += "/"
        print(f"soak: daemon pid {daemon.pid}, origin {base}, emulator {emu.url}", flush=True)
        for cam_id, _, _ in setups:
            h.wait_event(daemon, cam_id, "connected", 30)

        t0 = time.monotonic()
        end = t0 + duration
        sampler = ProcSampler(daemon.pid, SAMPLE_EVERY)
        sampler.start()
        polls = PlaylistPolls(root, [c for c, _, _ in setups], emu)
        polls.start()
        viewers = Viewers(base, "cam_ll", wd, end)
        viewers.start()

        next_flap = t0 + FLAP_EVERY
        next_outage = t0 + OUTAGE_EVERY
        order = [c for c, _, _ in setups]
        last_report = t0
        while time.monotonic() < end:
            now = time.monotonic()
            if not daemon.alive():
                print(f"soak: edgestream exited with {daemon.returncode()}", flush=True)
                break
            if now >= next_flap and now + FLAP_DOWN + 5 < end:
                cam = testcams[order[flaps % len(order)]]
                print(f"soak: {utc():%H:%M:%S} flap {cam.label}", flush=True)
                cam.kill()
                time.sleep(FLAP_DOWN)
                cam.start()
                flaps += 1
                next_flap += FLAP_EVERY
                continue
            if now >= next_outage and now + OUTAGE_FOR < end:
                print(f"soak: {utc():%H:%M:%S} storage outage {OUTAGE_FOR:.0f} s", flush=True)
                emu.outage(OUTAGE_FOR)
                outages += 1
                next_outage += OUTAGE_EVERY
            if now - last_report >= 60:
                last_report = now
                smp = sampler.samples[-1] if sampler.samples else None
                print(f"soak: {utc():%H:%M:%S} {int((now - t0) / 60)} min: "
                      f"rss {smp[1] if smp else '?'} kB fds {smp[2] if smp else '?'} "
                      f"threads {smp[3] if smp else '?'} load {load_average()}; polls "
                      f"{polls.polls} invalid {len(polls.invalid)}; viewer rounds "
                      f"{len(viewers.rounds)}", flush=True)
            time.sleep(1)

        sampler.sample()            # the last sample while the viewers are still there
        sampler.stop()
        viewers.stop()
        polls.stop()
        alive = daemon.alive()
        rc = daemon.stop(signal.SIGTERM, timeout=30)
        daemon_end = (f"alive for the whole run, stopped with exit status {rc}" if alive
                      else f"DIED during the run (exit status {daemon.returncode()})")
        ended = time.time()
        with open(os.path.join(wd, "samples.json"), "w") as f:   # raw data first
            json.dump({"samples": sampler.samples, "invalid": polls.invalid,
                       "viewer_rounds": viewers.rounds, "viewers_ended": viewers.ended_at}, f)

        # From the warm-up's end until the viewers' last round ended: the viewers' sockets
        # are the daemon's too, and their absence in the last seconds is not a trend.
        first_t = sampler.samples[0][0] if sampler.samples else 0
        last_t = viewers.ended_at or time.time()
        after = [x for x in sampler.samples if x[0] - first_t >= warmup and x[0] <= last_t]
        measures = {}
        for key_name, idx, scale in (("rss", 1, 1 / 1024.0), ("fds", 2, 1.0),
                                     ("threads", 3, 1.0)):
            pts = [(x[0], x[idx] * scale) for x in after]
            vals = [v for _, v in pts] or [float("nan")]
            measures[key_name] = {"slope": slope_per_hour(pts), "first": vals[0],
                                  "last": vals[-1], "min": min(vals), "max": max(vals)}
        loads = [float(x[4].split()[0]) for x in sampler.samples]
        levels = {}
        events = {}
        for line in daemon.all_log_lines():
            parsed = h.parse_log_line(line)
            if not parsed:
                continue
            levels[parsed[1]] = levels.get(parsed[1], 0) + 1
            if parsed[1] in ("ERROR", "WARN"):
                k = f"{parsed[2]} {parsed[3].get('event', '?')}"
                events[k] = events.get(k, 0) + 1
        held = sorted(r.get("held", 0) for r in viewers.rounds)
        stats = {
            "started": utc(started), "ended": utc(ended), "minutes": (ended - started) / 60,
            "build": build_name(),
            "load_start": load_start, "load_end": load_average(),
            "load_min": f"{min(loads):.1f}" if loads else "?",
            "load_max": f"{max(loads):.1f}" if loads else "?",
            "flaps": flaps, "outages": outages, "warmup_min": warmup / 60,
            "samples_after": len(after), "measures": measures,
            "polls": {"local": polls.polls["local"], "storage": polls.polls["storage"],
                      "invalid_local": sum(1 for x in polls.invalid if x[1] == "local"),
                      "invalid_storage": sum(1 for x in polls.invalid if x[1] == "storage"),
                      "unreachable": polls.unreachable},
            "invalid_examples": polls.invalid[:10],
            "viewers": {"rounds": len(viewers.rounds),
                        "held_min": held[0] if held else 0,
                        "held_median": held[len(held) // 2] if held else 0,
                        "delivered": sum(r.get("delivered", 0) for r in viewers.rounds),
                        "late": sum(r.get("late", 0) for r in viewers.rounds),
                        "skipped": sum(r.get("skipped", 0) for r in viewers.rounds),
                        "errors": sum(r.get("errors", 0) for r in viewers.rounds),
                        "bad_rounds": len(viewers.bad_rounds)},
            "daemon_end": daemon_end,
            "levels": ", ".join(f"{k} {v}" for k, v in sorted(levels.items())),
            "events": ", ".join(f"{k} ×{v}" for k, v in sorted(events.items())),
        }
        section = summarize(stats)
        print(section, flush=True)
        if MINUTES >= 30 or os.environ.get("SOAK_RECORD") == "1":
            record(section)
            print(f"soak: recorded in {RESULTS}", flush=True)
        ok = alive and not polls.invalid
        return 0 if ok else 1
    finally:
        for t in (viewers, polls, sampler):
            if t is not None and t.is_alive():
                t.stop()
        if daemon is not None:
            daemon.stop(signal.SIGKILL, timeout=5)
        for cam in testcams.values():
            cam.stop(signal.SIGKILL)
        if emu is not None:
            emu.stop()
        h.kill_all_started()
        if os.environ.get("SOAK_KEEP", "1") == "0":
            shutil.rmtree(wd, ignore_errors=True)
        else:
            print(f"soak: logs in {wd}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
