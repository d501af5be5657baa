#!/usr/bin/env python3
"""Recording on vs off (docs/recording.md): the same test camera, one edgestream with the
camera transcoded (854x480, 15 fps, 1 s segments) and only the origin as its sink, run
alternately with `record: false` and `record: true` for the same wall time each. Measured
per run with wait4(): CPU seconds (user + system) and peak RSS; and the recorder's bytes.

The runs are sequential, alternating (off, on, off, on...), so load drifting over time
hits both sides. The machine is shared: the load average is printed with each row.

usage: bench/record_bench.py BUILD_DIR [--seconds 45] [--pairs 2] [--cameras 1]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def start_camera(build):
    cam = subprocess.Popen([os.path.join(build, "tests", "es-testcam"), "--port", "0",
                            "--bind", "127.0.0.1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = cam.stdout.readline().strip()
    if not line.startswith("ready "):
        cam.kill()
        sys.exit("bench: test camera did not start")
    return cam, line.split()[-1]


def write_config(path, url, record, root, cameras):
    lines = ["storage: []", f"record_root: {root}", "origin:", "  listen: 127.0.0.1:0",
             "  webrtc:", "    enabled: false", "cameras:"]
    for i in range(cameras):
        lines += [f"  - id: cam{i}", f"    rtsp_url: {url}", "    settings:",
                  "      segment_duration: 1", f"      record: {'true' if record else 'false'}",
                  "      record_min_free_gb: 0"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_once(build, url, record, seconds, cameras, work):
    root = os.path.join(work, "recordings")
    shutil.rmtree(root, ignore_errors=True)
    config = os.path.join(work, "cameras.yaml")
    write_config(config, url, record, root, cameras)
    load = os.getloadavg()[0]
    proc = subprocess.Popen([os.path.join(build, "edgestream"), "--config", config, "--all",
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=work)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 20
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.time() > deadline:
            proc.kill()
            pid, status, ru = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    recorded = 0
    for r, _, names in os.walk(root):
        recorded += sum(os.path.getsize(os.path.join(r, n)) for n in names if n.endswith(".ts"))
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss, recorded, load


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--cameras", type=int, default=1)
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="es-record-bench-")
    cam, url = start_camera(args.build)
    rows = {False: [], True: []}
    try:
        print(f"| run | record | CPU s per stream s | peak RSS | recorded | load avg |")
        print("|---|---|---|---|---|---|")
        for i in range(args.pairs):
            for record in (False, True):
                cpu, rss, recorded, load = run_once(args.build, url, record, args.seconds,
                                                    args.cameras, work)
                rows[record].append((cpu, rss))
                print(f"| {i + 1} | {'on' if record else 'off'} | "
                      f"{cpu / args.seconds / args.cameras:.3f} | {rss / 1024:.1f} MiB | "
                      f"{recorded / 1e6:.1f} MB | {load:.1f} |", flush=True)
    finally:
        cam.send_signal(signal.SIGTERM)
        cam.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    off_cpu = sum(c for c, _ in rows[False]) / len(rows[False])
    on_cpu = sum(c for c, _ in rows[True]) / len(rows[True])
    off_rss = sum(r for _, r in rows[False]) / len(rows[False])
    on_rss = sum(r for _, r in rows[True]) / len(rows[True])
    print(f"\nMean of {args.pairs} runs each, {args.cameras} camera(s), {args.seconds:.0f} s: "
          f"CPU {on_cpu / off_cpu * 100 - 100:+.1f} % with recording "
          f"({off_cpu:.1f} s -> {on_cpu:.1f} s), peak RSS {(on_rss - off_rss) / 1024:+.1f} MiB "
          f"({off_rss / 1024:.1f} -> {on_rss / 1024:.1f} MiB).")


if __name__ == "__main__":
    main()
