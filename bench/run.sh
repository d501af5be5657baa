#!/usr/bin/env bash
# make bench: the issue-2 pipeline benchmark (edgestream against the reference
# ffmpeg command), written into bench/RESULTS.md. BENCH_SECONDS per run (60).
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
python3 bench/compare.py "$build" --seconds "${BENCH_SECONDS:-60}" --out bench/RESULTS.md
