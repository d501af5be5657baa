#!/usr/bin/env python3
"""edgestream against the reference design's ffmpeg command, side by side in one run.

Scenarios (same test camera, same settings, same wall time each):
  transcode x1   ffmpeg reference command      vs  edgestream --camera
  copy x1        ffmpeg -c copy (same HLS)     vs  edgestream (transcode: copy)
  transcode x8   8 ffmpeg processes            vs  one edgestream --all
  copy x8        8 ffmpeg -c copy processes    vs  one edgestream --all (copy)

Measured per process with wait4(): CPU seconds (user + system) and peak RSS.
Reported: CPU seconds per stream second (per camera) and peak RSS (summed over
the ffmpeg processes in the x8 rows), and edgestream / ffmpeg ratios.

The runs are sequential (never both at once) so neither steals the other's
core; the test camera runs throughout and is not counted.

usage: bench/compare.py BUILD_DIR [--seconds 60] [--out bench/RESULTS.md]
"""
import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time

FFMPEG_TRANSCODE = [
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
    "-vf", "scale=854:480", "-r", "15", "-g", "30", "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "128k",
]
FFMPEG_COPY = ["-c", "copy"]


def start_camera(build):
    cam = subprocess.Popen([os.path.join(build, "tests", "es-testcam"), "--port", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = cam.stdout.readline().strip()
    if not line.startswith("ready "):
        cam.kill()
        sys.exit("bench: test camera did not start")
    return cam, line.split()[1]


def run_for(procs, seconds):
    """Lets the processes run `seconds`, stops them with SIGINT and returns
    [(cpu_seconds, maxrss_kib)] from wait4."""
    time.sleep(seconds)
    for p in procs:
        p.send_signal(signal.SIGINT)
    out = []
    for p in procs:
        deadline = time.time() + 20
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
        p.returncode = status
        out.append((ru.ru_utime + ru.ru_stime, ru.ru_maxrss))
    return out


def ffmpeg_run(url, n, copy, seconds, work):
    procs = []
    for i in range(n):
        d = os.path.join(work, f"ffmpeg_{'copy' if copy else 'x264'}_{i}")
        os.makedirs(d, exist_ok=True)
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url]
        cmd += FFMPEG_COPY if copy else FFMPEG_TRANSCODE
        cmd += ["-f", "hls", "-hls_time", "2", "-hls_list_size", "5",
                "-hls_flags", "delete_segments+append_list",
                "-hls_segment_filename", os.path.join(d, "segment_%03d.ts"),
                os.path.join(d, "stream.m3u8")]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return run_for(procs, seconds)


def edgestream_run(build, url, n, copy, seconds, work):
    root = os.path.join(work, f"edge_{'copy' if copy else 'x264'}_{n}")
    config = os.path.join(work, f"cameras_{n}_{copy}.yaml")
    with open(config, "w") as f:
        # Like for like: ffmpeg writes HLS to disk and serves nothing, so the
        # HTTP origin (on by default) is off here.
        f.write("origin:\n  enabled: false\ncameras:\n")
        for i in range(n):
            f.write(f"""- id: "cam{i}"
  name: "Camera {i}"
  rtsp_url: "{url}"
  enabled: true
  settings:
    target_width: 854
    target_fps: 15
    segment_duration: 2
    segments_to_keep: 5
    transcode: {"copy" if copy else "x264"}
""")
    cmd = [os.path.join(build, "edgestream"), "--config", config, "--all", "--root", root,
           "--quiet", "--log-level", "warn"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run_for([proc], seconds)


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1) if m else model
    except OSError:
        pass
    ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return f"{os.cpu_count()} cores, {model}; {platform.platform()}; {ff}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None, help="comma list: x264-1,copy-1,x264-8,copy-8")
    args = ap.parse_args()

    scenarios = [("transcode", False, 1), ("passthrough", True, 1),
                 ("transcode", False, 8), ("passthrough", True, 8)]
    if args.only:
        wanted = set(args.only.split(","))
        scenarios = [s for s in scenarios if f"{'copy' if s[1] else 'x264'}-{s[2]}" in wanted]

    cam, url = start_camera(args.build)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="es-bench-") as work:
            time.sleep(2)  # let the camera's encoder settle
            for name, copy, n in scenarios:
                ff = ffmpeg_run(url, n, copy, args.seconds, work)
                es = edgestream_run(args.build, url, n, copy, args.seconds, work)
                ff_cpu = sum(c for c, _ in ff) / (args.seconds * n)
                ff_rss = sum(r for _, r in ff) / 1024
                es_cpu = es[0][0] / (args.seconds * n)
                es_rss = es[0][1] / 1024
                rows.append((f"{name} ×{n}", ff_cpu, es_cpu, ff_rss, es_rss))
                print(f"{name} x{n}: ffmpeg {ff_cpu:.4f} cpu-s/s {ff_rss:.1f} MiB | "
                      f"edgestream {es_cpu:.4f} cpu-s/s {es_rss:.1f} MiB | "
                      f"cpu {es_cpu / ff_cpu:.2f}x rss {es_rss / ff_rss:.2f}x", flush=True)
    finally:
        cam.send_signal(signal.SIGTERM)
        cam.wait(timeout=10)

    table = ["| scenario | ffmpeg CPU s/s per camera | edgestream CPU s/s per camera | CPU ratio "
             "| ffmpeg peak RSS (MiB, summed) | edgestream peak RSS (MiB) | RSS ratio |",
             "|---|---|---|---|---|---|---|"]
    for name, fc, ec, fr, er in rows:
        table.append(f"| {name} | {fc:.4f} | {ec:.4f} | **{ec / fc:.2f}×** | {fr:.1f} | {er:.1f} "
                     f"| **{er / fr:.2f}×** |")
    report = "\n".join(table)
    print(report)
    if args.out:
        body = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `bench/compare.py`"
                f" ({args.seconds:.0f} s per run, runs sequential, never two at once).  \n"
                f"Machine: {machine()}  \n"
                "Camera: es-testcam 1280×720 25 fps H.264 (GOP 50) + AAC, RTSP over TCP on "
                "loopback, shared by all clients; its own CPU is not counted.  \n"
                "Same settings on both sides: 854 px wide, 15 fps, 2 s segments, 5 kept, "
                "AAC 128 kb/s; passthrough is `-c copy` against `transcode: copy`; "
                "edgestream's HTTP origin is off (ffmpeg serves nothing).\n\n"
                + report + "\n")
        write_section(args.out, SECTION, body)


SECTION = "## Pipeline CPU and memory against the reference ffmpeg command (issue 2)"


def write_section(path, heading, body):
    """Replaces (or appends) one `## ` section of a Markdown file, leaving the
    sections other benchmarks write untouched."""
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
        parts.append(section)
    with open(path, "w") as f:
        f.write("".join(parts))

if __name__ == "__main__":
    main()
