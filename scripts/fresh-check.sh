#!/usr/bin/env bash
# make fresh-check: the README's two commands on a clean Debian 12 root.
#
# Builds a minimal Debian 12 root with mmdebstrap from this machine's own apt
# sources (plus make: the README's commands are make targets), copies the
# committed tree (git archive HEAD) and ../shared into it, and runs, with
# chroot, first `make test`, then `make demo` for 30 s, checking that the
# demo's origin served a playlist with at least 3 segments. A package
# installed by hand on this machine cannot hide a missing line in deps.sh here.
# scripts/clean-root.sh says how the root is made, mounted and cleaned up, and
# where the .deb and npm caches are (a second run downloads nothing again).
#
# The log of the run is FRESH_LOG (/var/tmp/edgestream-fresh-check.log).
# The last line printed is "fresh-check: PASS|FAIL <seconds> <commit>".
# Needs root. Not part of `make test`: it takes about half an hour.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
shared=$(cd "$repo/../shared" && pwd)
# shellcheck source=scripts/clean-root.sh
. "$repo/scripts/clean-root.sh"
clean_root_begin fresh-check "${FRESH_LOG:-/var/tmp/edgestream-fresh-check.log}"
summary=$(git -C "$repo" rev-parse --short HEAD)

ROOT_INCLUDE=make clean_root_build
mkdir -p "$root/work/main" "$root/work/shared"
git -C "$repo" archive HEAD | tar -x -C "$root/work/main"
cp -a "$shared/." "$root/work/shared/"

say "make test (in the clean root)"
if ! in_root 5400 /work/main 'make test' >>"$log" 2>&1; then
    say "make test failed: $(grep -E 'tests passed|tests failed' "$log" | tail -n 2 | tr '\n' ' ')"
    exit 1
fi
say "make test: $(grep -E 'tests passed' "$log" | tail -n 2 | tr '\n' ' ')"

# The demo streams 30 s; meanwhile its origin's playlist is fetched once a
# second and the most segments it ever listed are kept.
say "make demo for 30 s (in the clean root, own network namespace)"
in_root --net 900 /work/main '
    DEMO_DURATION=30 make demo >/tmp/demo.log 2>&1 &
    demo=$!
    most=0
    while kill -0 $demo 2>/dev/null; do
        n=$(curl -sf --max-time 2 http://127.0.0.1:8080/live/cam_floor/stream.m3u8 | grep -c "^#EXTINF" || true)
        if [ "${n:-0}" -gt "$most" ]; then most=$n; fi
        sleep 1
    done
    wait $demo && status=0 || status=$?
    tail -n 20 /tmp/demo.log
    echo "demo: exit $status, most segments served: $most"
    [ "$status" -eq 0 ] && [ "$most" -ge 3 ]
' >>"$log" 2>&1 && demo_ok=1 || demo_ok=0
say "$(grep '^demo: exit' "$log" | tail -n 1)"
[ "$demo_ok" -eq 1 ] || exit 1

result=PASS
