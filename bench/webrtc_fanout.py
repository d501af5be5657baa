#!/usr/bin/env python3
"""WebRTC viewers of one transcoded 480p camera that two cores hold (issue 12).

    python3 bench/webrtc_fanout.py [--build build] [--steps 1,25,50,100,150,200]
                                   [--seconds 20] [--warmup 5] [--trials 1] [--json out.json]

One es-testcam (1280x720 25 fps) -> one edgestream, camera `c` transcoded to 854x480 15 fps
(profile ll), origin.webrtc on with the session caps raised. For each step, es-whep-client
(tests/webrtc/whep_client.c: real WHEP POSTs, STUN checks, DTLS handshakes and SRTP, in one
process, at nice 10) opens N viewers for SECONDS; frames completed in the first WARMUP
seconds are not judged. A frame's delay is the kernel's receive time of its last packet
(SO_TIMESTAMPNS) minus its capture time, from its RTP timestamp mapped through the
session's RTCP sender reports (the camera's capture clock). A viewer is held when every
judged frame arrived within 100 ms, no video packet was missing, and it judged all but at
most one of the frames the best viewer judged. "Held after first" judges the same with
the delay from the frame's first arrival at any viewer (about when the server had it)
instead of its capture: the fan-out's own delay, without the camera's encode and the
transcode, which a loaded machine delays for every viewer alike. Daemon CPU (utime + stime from
/proc/<pid>/stat, transcode included) is taken over the judged window; with no viewer as
the baseline, CPU per viewer = (CPU at N - baseline) / N. The steps stop early (bounded)
once a step holds (after first) under half of its viewers. Prints a Markdown table.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu(pid, name):
    """utime + stime of the process's threads called `name`, in seconds."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--steps", default="1,25,50,100,150,200")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--trials", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    os.environ.setdefault("ES_BINARY", os.path.join(build, "edgestream"))
    os.environ.setdefault("ES_TESTCAM", os.path.join(build, "tests", "es-testcam"))
    client = os.environ.get("ES_WHEP_CLIENT", os.path.join(build, "tests", "es-whep-client"))
    if not os.access(client, os.X_OK):
        sys.exit(f"{client} not found: build the es-whep-client target")
    steps = [int(x) for x in a.steps.split(",") if x]
    if not steps or min(steps) < 1 or max(steps) > 1000:
        sys.exit("--steps: viewer counts from 1 to 1000")

    import harness as h
    import origin_harness as oh
    import webrtc_harness as wh

    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    wd = h.new_workdir("webrtc-fanout")
    rows = []
    failed = True
    try:
        cam = h.TestCam(wd, "testcam")
        url = cam.start()
        config = wh.write_config(
            os.path.join(wd, "cameras.yaml"), [h.camera("c", url, profile="ll")],
            wh.free_udp_port(), webrtc={"max_sessions": 1000, "max_sessions_per_camera": 1000})
        daemon, base = oh.start_daemon(wd, config)
        daemon.wait_log(r"webrtc event=listening", 15)
        oh.wait_playlist(base, "c", timeout=30)
        time.sleep(3)
        # No viewer: the camera's transcode and the origin alone.
        c0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(10)
        baseline = (cpu_seconds(daemon.pid) - c0) / (time.monotonic() - t0)
        print(f"no viewer: daemon {baseline:.3f} cores, load {loadavg()}", file=sys.stderr)
        for n in steps:
            for trial in range(a.trials):
                cmd = ["nice", "-n", "10", client, "--base", base, "--camera", "c",
                       "--sessions", str(n), "--seconds", str(a.seconds),
                       "--warmup", str(a.warmup)]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                begin = time.monotonic()
                time.sleep(a.warmup)
                d0, w0, m0 = cpu_seconds(daemon.pid), thread_cpu(daemon.pid, "es-webrtc"), time.monotonic()
                time.sleep(max(0.5, a.seconds - a.warmup - 0.5))
                d1, w1, m1 = cpu_seconds(daemon.pid), thread_cpu(daemon.pid, "es-webrtc"), time.monotonic()
                try:
                    client_cpu = cpu_seconds(proc.pid)
                except OSError:
                    client_cpu = None
                load = loadavg()
                out, err = proc.communicate(timeout=a.seconds + 60)
                if proc.returncode != 0 or not out.strip():
                    raise RuntimeError(f"es-whep-client exited {proc.returncode}: {err[-500:]}")
                r = json.loads(out.strip().splitlines()[-1])
                r.update(viewers=n, trial=trial + 1, daemon_cores=(d1 - d0) / (m1 - m0),
                         webrtc_thread_cores=(w1 - w0) / (m1 - m0), client_cpu_s=client_cpu,
                         load=load, wall_s=time.monotonic() - begin)
                rows.append(r)
                dm = r["delay_ms"]
                print(f"{n} viewers: held {r['held']} (after first {r['held_after_first']}), connected {r['connected']}, late "
                      f"{r['late_frames']}/{dm['count']}, lost {r['lost_packets']}, delay p50 "
                      f"{dm['p50']} p95 {dm['p95']} max {dm['max']} ms, daemon "
                      f"{r['daemon_cores']:.3f} cores (es-webrtc {r['webrtc_thread_cores']:.3f}), "
                      f"client {client_cpu} s, load {load}", file=sys.stderr)
                if not daemon.alive():
                    raise RuntimeError("edgestream exited during the run")
                time.sleep(2)  # the DELETEs and the sessions' ends settle
            if all(r["held_after_first"] < n / 2 for r in rows if r["viewers"] == n):
                break
        daemon.stop()
        cam.stop()
        failed = False
    finally:
        h.kill_all_started()
        h.remove_workdir(wd, failed)

    load_end = loadavg()
    ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"Measured {started:%Y-%m-%d %H:%M} UTC by `bench/webrtc_fanout.py` ({a.seconds:g} s per "
          f"step, the first {a.warmup:g} s not judged; {a.trials} trial(s) per step). Machine: "
          f"{os.cpu_count()} cores, {platform.platform()}; load average at start {load_start}, "
          f"at end {load_end}. Daemon with no viewer: {baseline:.3f} cores (the camera's "
          f"transcode).\n")
    print("| viewers | held | held after first | connected | frames late (>100 ms) / judged "
          "| packets lost | delay p50 | p95 | max | after first p95 / max | read by the client "
          "p95 / max | daemon CPU (cores) | es-webrtc thread | CPU per viewer (% of a core) "
          "| client CPU s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        dm, rd = r["delay_ms"], r["read_delay_ms"]
        per = (r["daemon_cores"] - baseline) / r["viewers"] * 100
        client_s = "–" if r["client_cpu_s"] is None else f"{r['client_cpu_s']:.1f}"
        af = r["after_first_ms"]
        print(f"| {r['viewers']} | **{r['held']}** | **{r['held_after_first']}** | "
              f"{r['connected']} | {r['late_frames']} / "
              f"{dm['count']} | {r['lost_packets']} | {dm['p50']:.1f} ms | {dm['p95']:.1f} | "
              f"{dm['max']:.1f} | {af['p95']:.1f} / {af['max']:.1f} | "
              f"{rd['p95']:.1f} / {rd['max']:.1f} | {r['daemon_cores']:.3f} | "
              f"{r['webrtc_thread_cores']:.3f} | {per:.2f} | "
              f"{client_s} | {r['load']} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"started": started.isoformat(), "load_start": load_start,
                       "load_end": load_end, "baseline_cores": baseline, "ffmpeg": ff,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
