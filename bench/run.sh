#!/usr/bin/env bash
# make bench: the issue-2 pipeline benchmark (edgestream against the reference
# ffmpeg command), written into bench/RESULTS.md. BENCH_SECONDS per run (60).
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
# Every program the benches run, found now or named with its Debian package.
scripts/need-tool ffmpeg node nginx chromium >/dev/null
python3 bench/compare.py "$build" --seconds "${BENCH_SECONDS:-60}" --out bench/RESULTS.md
# Issue 3: storage uploads (latency, requests, bytes, connections) for 1 and 8
# cameras into the Supabase Storage emulator, UPLOAD_BENCH_SECONDS per run (300).
python3 bench/upload_latency.py --build "$build" --cameras 1,8 \
    --seconds "${UPLOAD_BENCH_SECONDS:-300}" --out bench/RESULTS.md
# Issue 4: the origin: glass-to-glass latency in Chromium with hls.js, LL-HLS fan-out
# and the same classic load against nginx (about 10 minutes).
python3 bench/origin_bench.py --build "$build" --out bench/RESULTS.md
# Issue 12: WebRTC glass-to-glass against LL-HLS in Chromium, and WebRTC viewers per
# 2 cores (about 15 minutes), appended as a dated subsection.
bench/webrtc.sh "$build" >> bench/RESULTS.md
