#!/usr/bin/env bash
# make demo: starts the test camera (a live 1280x720 25 fps H.264 + AAC pattern
# with a burned-in clock at rtsp://127.0.0.1:8554/cam1, the URL the example
# config already names) and streams it with edgestream until Ctrl-C.
# DEMO_DURATION=SECS stops by itself (for scripted runs).
set -euo pipefail
build=${1:-build}
root=${DEMO_ROOT:-streams}
cd "$(dirname "$0")/.."

"$build/tests/es-testcam" --port 8554 --path /cam1 > "$build/testcam.out" 2>&1 &
cam_pid=$!
edge_pid=""
cleanup() {
    [ -n "$edge_pid" ] && kill "$edge_pid" 2>/dev/null || true
    kill "$cam_pid" 2>/dev/null || true
    wait "$cam_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for _ in $(seq 100); do
    grep -q '^ready' "$build/testcam.out" 2>/dev/null && break
    kill -0 "$cam_pid" 2>/dev/null || { cat "$build/testcam.out"; echo "demo: test camera failed to start" >&2; exit 1; }
    sleep 0.1
done

playlist="$root/location_1/cam_floor/stream.m3u8"
# The origin (on by default, `origin:` in the config) serves the dashboard from
# web/dist, the playlists from memory, /api/cameras, /metrics and /healthz.
origin=${DEMO_ORIGIN:-http://127.0.0.1:8080}
cat <<MSG

  test camera : rtsp://127.0.0.1:8554/cam1 (pid $cam_pid)
  browser     : $origin/   (the dashboard; one camera: $origin/player.html?src=/live/cam_floor/stream.m3u8)
  playlist    : $origin/live/cam_floor/stream.m3u8   (on disk: $PWD/$playlist)
  watch it    : ffplay $origin/live/cam_floor/stream.m3u8   (or VLC / mpv)
  stop        : Ctrl-C

MSG

args=(--config cameras.example.yaml --camera cam_floor --root "$root")
[ -n "${DEMO_DURATION:-}" ] && args+=(--duration "$DEMO_DURATION")
"$build/edgestream" "${args[@]}" &
edge_pid=$!
wait "$edge_pid"
