#!/usr/bin/env bash
# Issue 12: WebRTC glass-to-glass against LL-HLS (bench/glass.mjs: Chromium, the test
# camera's burned-in clock read from each decoded frame) and the WebRTC viewers of one
# transcoded camera that this machine holds (bench/webrtc_fanout.py, es-whep-client).
# About 15 minutes. Prints a Markdown section on stdout, progress on stderr:
#   bench/webrtc.sh [build-dir] >> bench/RESULTS.md
# GLASS_ARGS / FANOUT_ARGS add options to either (e.g. GLASS_ARGS="--joins 1").
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
scripts/need-tool node chromium ffmpeg >/dev/null
echo
echo "### WebRTC benchmark run of $(date -u '+%Y-%m-%d %H:%M') UTC (\`bench/webrtc.sh\`)"
echo
echo "**Glass-to-glass** (displayMs - captureMs per presented frame; seconds):"
echo
node bench/glass.mjs --build "$build" ${GLASS_ARGS:-}
echo
echo "**WebRTC viewers of one transcoded 480p camera:**"
echo
python3 bench/webrtc_fanout.py --build "$build" ${FANOUT_ARGS:-}
