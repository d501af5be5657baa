#!/usr/bin/env python3
"""Storage upload latency and cost (issue 3, "What it must show" item 5).

For N cameras streaming to the Supabase Storage emulator on loopback, measures:

  - latency: from the moment edgestream cut a segment to the first read of the *public*
    playlist that names it. The cut happens when the frame after the segment's last one
    (the next keyframe) arrives; the local sink, which the daemon also runs, writes the
    segment in the camera's thread at that moment, so its file's mtime marks the cut.
    "From the last frame" adds one frame interval (the last frame arrived one frame before
    the one that closed the segment). Each camera's public playlist is polled every --poll
    seconds over a keep-alive connection, so a value is an upper bound by at most one poll
    interval. The same against PROGRAM-DATE-TIME + EXTINF is reported too: with es-testcam
    those dates come from its RTCP sender reports, which run some 40 ms ahead of arrival
    on this machine, so that number reads low (even negative);
  - the part of it spent storing the segment: the emulator's write log has the time each
    segment was stored;
  - requests and request-body bytes per segment (everything the daemon sent: segment
    uploads, playlist upserts, batched deletes, the start-up reads), from the emulator;
  - TCP connections the daemon opened: libcurl's count (uploader_stats log line) and the
    emulator's accepted connections minus the pollers' own;
  - the daemon's CPU time.

One es-testcam serves every camera (its media is shared); cameras use `transcode: copy`
so that the numbers are about uploading, not encoding. Defaults: 300 s, after 10 s warm-up.

    bench/upload_latency.py --build build --cameras 1,8 --seconds 300 --out bench/RESULTS.md
    bench/upload_latency.py --from-json one.json,eight.json --out bench/RESULTS.md

--out replaces (or appends) this script's own section of the file, "## Storage uploads
(issue 3)", and leaves the sections other benchmarks write alone.
"""

import argparse
import datetime
import json
import os
import platform
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness as h  # noqa: E402
import storage_harness as sh  # noqa: E402

SEGMENT = 2
KEEP = 5
FPS = 25  # es-testcam's default frame rate (copy mode keeps it)


class Poller(threading.Thread):
    """First time each msn is named by one camera's public playlist, and the mtime of the
    local sink's file for it (the cut)."""

    def __init__(self, url, interval, local_dir):
        super().__init__(daemon=True)
        self.local_dir = local_dir
        self.cut = {}      # msn -> local file mtime
        self.checker = sh.PlaylistChecker(url, url.rsplit("/", 1)[0] + "/", interval=interval,
                                          refetch=False)
        self.connections = 0
        self.seen = {}     # msn -> (time, Segment)
        self._stop_event = threading.Event()

    def run(self):
        c = self.checker
        orig = c._request

        def counted(url):
            if c._conn is None:
                self.connections += 1
            return orig(url)
        c._request = counted
        c._fetch = lambda name, again=False: None  # latency only: segments are not fetched
        while not self._stop_event.is_set():
            t0 = time.monotonic()
            n = len(c.versions)
            c.poll()
            if len(c.versions) > n:
                v = c.versions[-1]
                for s in v.playlist.segments:
                    if s.msn in self.seen:
                        continue
                    self.seen[s.msn] = (v.time, s)
                    try:
                        st = os.stat(os.path.join(self.local_dir, s.uri))
                        self.cut[s.msn] = st.st_mtime_ns / 1e9
                    except OSError:
                        pass
            self._stop_event.wait(max(0.0, c.interval - (time.monotonic() - t0)))

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(args):
    wd = h.new_workdir(f"bench-upload-{args.n}")
    key = sh.new_key()
    emu = sh.Emulator(wd, key)
    cam = h.TestCam(wd, "testcam")
    pollers = []
    try:
        url = cam.start()
        emu.start()
        ids = [f"cam_{i}" for i in range(args.n)]
        config = sh.storage_config(os.path.join(wd, "cameras.yaml"), [
            h.camera(i, url, segment_duration=SEGMENT, segments_to_keep=KEEP,
                     transcode="copy") for i in ids], [
            {"backend": "local", "root": os.path.join(wd, "root")},
            {"backend": "supabase", "url": emu.url},
        ])
        os.environ["SUPABASE_KEY"] = key
        try:
            daemon = h.Daemon(wd, ["--config", config, "--all", "--quiet"])
            daemon.start()
        finally:
            del os.environ["SUPABASE_KEY"]
        for i in ids:
            p = Poller(emu.public_url(f"location_1/{i}/stream.m3u8"), args.poll,
                       os.path.join(wd, "root", "location_1", i))
            p.start()
            pollers.append(p)
        h.wait_for(lambda: all(p.seen for p in pollers), 30, what="every camera's playlist")
        time.sleep(args.warmup)
        t_start = time.time()
        stats0 = emu.stats()
        cpu0 = cpu_seconds(daemon.pid)
        time.sleep(args.seconds)
        t_end = time.time()
        stats1 = emu.stats()
        cpu1 = cpu_seconds(daemon.pid)
        for p in pollers:
            p.stop()
        rc = daemon.stop(signal.SIGTERM, timeout=30)
        curl = sh.log_events(daemon, "uploader_stats")
        leaked = sh.secrets_in_files(wd, [key])
    finally:
        for p in pollers:
            if p.is_alive():
                p.stop()
        h.kill_all_started()

    # Segment store times, by object name, from the write log.
    stored = {}
    for w in stats1["write_log"]:
        if w["name"].endswith(".ts"):
            stored.setdefault(w["name"], w["time"])
    lat, lat_store, lat_pdt = [], [], []
    for i, p in zip(ids, pollers):
        for msn, (seen, s) in p.seen.items():
            cut = p.cut.get(msn)
            if cut is None or not (t_start <= cut <= t_end - SEGMENT):
                continue
            lat.append(seen - cut)
            if s.pdt is not None:
                lat_pdt.append(seen - (s.pdt + s.duration))
            t = stored.get(f"streams/location_1/{i}/{s.uri}")
            if t is not None:
                lat_store.append(t - cut)

    def routes_delta(name):
        a = stats0["routes"].get(name, {}).get("requests", 0)
        b = stats1["routes"].get(name, {}).get("requests", 0)
        return b - a

    segs = len([w for w in stats1["write_log"][len(stats0["write_log"]):]
                if w["name"].endswith(".ts")])
    playlists = len([w for w in stats1["write_log"][len(stats0["write_log"]):]
                     if w["name"].endswith(".m3u8")])
    requests = {k: routes_delta(k) for k in stats1["routes"] if "/object/public/" not in k}
    total_requests = sum(requests.values())
    bytes_in = stats1["bytes_in"] - stats0["bytes_in"]
    poll_conns = sum(p.connections for p in pollers)
    result = {
        "cameras": args.n,
        "seconds": round(t_end - t_start, 1),
        "poll_interval_ms": args.poll * 1000,
        "segments": segs,
        "playlist_writes": playlists,
        "cut_to_public_ms": {
            "count": len(lat),
            "p50": round(1000 * sh.percentile(lat, 0.5), 1),
            "p99": round(1000 * sh.percentile(lat, 0.99), 1),
            "max": round(1000 * max(lat), 1),
        },
        "last_frame_to_public_ms": {
            "p50": round(1000 * (sh.percentile(lat, 0.5) + 1 / FPS), 1),
            "p99": round(1000 * (sh.percentile(lat, 0.99) + 1 / FPS), 1),
        },
        "cut_to_segment_stored_ms": {
            "p50": round(1000 * sh.percentile(lat_store, 0.5), 1),
            "p99": round(1000 * sh.percentile(lat_store, 0.99), 1),
        },
        "pdt_end_to_public_ms": {
            "p50": round(1000 * sh.percentile(lat_pdt, 0.5), 1),
            "p99": round(1000 * sh.percentile(lat_pdt, 0.99), 1),
        },
        "requests_by_route": requests,
        "requests_per_segment": round(total_requests / segs, 3),
        "request_bytes_per_segment": round(bytes_in / segs),
        "connections_accepted_whole_run": stats1["connections_accepted"],
        "connections_pollers": poll_conns,
        "connections_daemon_emulator_side": stats1["connections_accepted"] - poll_conns,
        "connections_daemon_libcurl": int(curl[0][3]["connections_opened"]) if curl else None,
        "daemon_requests_libcurl": int(curl[0][3]["requests"]) if curl else None,
        "daemon_cpu_percent": round(100 * (cpu1 - cpu0) / (t_end - t_start), 1),
        "exit_status": rc,
        "key_found_in_files": len(leaked),
    }
    return result


SECTION = "## Storage uploads (issue 3)"


def render(results):
    """The section's body (Markdown) for a list of results."""
    cpus = os.cpu_count()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    seconds = ", ".join(f"{r['seconds']:.0f} s" for r in results)
    lines = [
        f"Measured {when} by `bench/upload_latency.py` ({seconds}; runs sequential). "
        f"Machine: {cpus} cores, {platform.platform()}; shared with other work, so the "
        f"load was not controlled.  ",
        "Store: `tests/tools/supabase_emulator.py` (Python, in-memory) on loopback, over "
        "plain HTTP. Cameras: one es-testcam (1280×720 25 fps H.264 + AAC) shared by every "
        "camera, `transcode: copy`, 2 s segments, 5 kept, `storage: [local, supabase]`.  ",
        "Latency runs from the moment edgestream cut the segment (the arrival of the keyframe "
        "after its last frame; marked by the local sink's file, written at that moment) to "
        "the first read of the public playlist naming it; \"last frame\" adds one frame "
        "(40 ms at 25 fps). The public playlists are polled every "
        f"{results[0]['poll_interval_ms']:.0f} ms, so values are upper bounds by up to one poll. "
        "Requests and bytes are everything the daemon sent (segments, playlists, batched "
        "deletes); connections are libcurl's count of TCP connections the daemon opened "
        "(the emulator's count, less the pollers', agrees).",
        "",
        "| cameras | segments | cut → public p50 / p99 | last frame → public p50 / p99 | "
        "segment stored p50 / p99 | requests / segment | request bytes / segment | "
        "connections opened | daemon CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c, lf, st = r["cut_to_public_ms"], r["last_frame_to_public_ms"], \
            r["cut_to_segment_stored_ms"]
        lines.append(
            f"| {r['cameras']} | {r['segments']} | **{c['p50']:.0f} / {c['p99']:.0f} ms** | "
            f"{lf['p50']:.0f} / {lf['p99']:.0f} ms | {st['p50']:.0f} / {st['p99']:.0f} ms | "
            f"**{r['requests_per_segment']:.2f}** | {r['request_bytes_per_segment'] / 1024:.0f} KiB | "
            f"**{r['connections_daemon_libcurl']}** (emulator: "
            f"{r['connections_daemon_emulator_side']}) | {r['daemon_cpu_percent']:.1f} % |")
    lines += [
        "",
        "Goals (issue 3): p50 under 100 ms, at most 3 requests per segment including deletes, "
        "connections independent of the number of cameras. Requests by route, per run: " +
        "; ".join(f"{r['cameras']} camera(s): " + ", ".join(
            f"{k} {v}" for k, v in r["requests_by_route"].items() if v) for r in results) +
        ". Against PROGRAM-DATE-TIME + EXTINF (the camera's RTCP clock) instead of the cut, "
        "p50 / p99 was " + "; ".join(
            f"{r['pdt_end_to_public_ms']['p50']:.0f} / {r['pdt_end_to_public_ms']['p99']:.0f} ms "
            f"({r['cameras']})" for r in results) +
        ". No key was found in any file of any run.",
    ]
    return "\n".join(lines)


def write_section(path, heading, body):
    """Replaces (or appends) one `## ` section of a Markdown file, leaving the sections
    other benchmarks write untouched (as bench/compare.py does)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmark results\n\nEach section is written by the script it names.\n"
    parts = re.split(r"(?m)^(?=## )", text)
    section = f"{heading}\n\n{body}\n"
    for i, part in enumerate(parts):
        if part.startswith(heading):
            parts[i] = section
            break
    else:
        if parts and not parts[-1].endswith("\n\n"):
            parts[-1] = parts[-1].rstrip("\n") + "\n\n"
        parts.append(section)
    with open(path, "w") as f:
        f.write("".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--cameras", default="1", help="camera counts, e.g. 1,8 (one run each)")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--poll", type=float, default=0.02, help="public playlist poll interval, s")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--from-json", help="render saved results (comma-separated files)")
    ap.add_argument("--out", help="write this script's section of a RESULTS.md")
    args = ap.parse_args()
    if args.from_json:
        results = []
        for path in args.from_json.split(","):
            with open(path) as f:
                data = json.load(f)
            results += data if isinstance(data, list) else [data]
    else:
        build = os.path.abspath(args.build)
        os.environ.setdefault("ES_BINARY", os.path.join(build, "edgestream"))
        os.environ.setdefault("ES_TESTCAM", os.path.join(build, "tests", "es-testcam"))
        results = []
        for n in [int(x) for x in args.cameras.split(",")]:
            args.n = n
            results.append(run(args))
            print(json.dumps(results[-1], indent=2), flush=True)
        if args.json:
            with open(args.json, "w") as f:
                f.write(json.dumps(results, indent=2) + "\n")
    if args.out:
        write_section(args.out, SECTION, render(results))
        print(f"wrote {SECTION!r} in {args.out}")


if __name__ == "__main__":
    main()
