#!/usr/bin/env bash
# make fresh-check: the README's two commands on a clean Debian 12 root.
#
# Builds a minimal Debian 12 root with mmdebstrap from this machine's own apt
# sources, copies the committed tree (git archive HEAD) and ../shared into it,
# and runs, with chroot, first `make test`, then `make demo` for 30 s, checking
# that the demo's origin served a playlist with at least 3 segments. A package
# installed by hand on this machine cannot hide a missing line in deps.sh here.
#
# Each step runs in its own mount and PID namespace (unshare): its mounts
# (/proc, /dev, /dev/shm, /sys, a tmpfs /tmp, the caches) and every process it
# started vanish with it, even when the run is interrupted. The demo step also
# gets its own network namespace, so its fixed ports cannot meet this machine's.
#
# Downloaded .deb files (and npm's cache) are kept in FRESH_CACHE
# (/var/cache/edgestream-fresh-check), so a second run downloads nothing again.
# The log of the run is FRESH_LOG (/var/tmp/edgestream-fresh-check.log).
# The last line printed is "fresh-check: PASS|FAIL <seconds> <commit>".
# Needs root. Not part of `make test`: it takes about half an hour.
set -euo pipefail

started=$(date +%s)
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --short HEAD)
shared=$(cd "$repo/../shared" && pwd)
cache=${FRESH_CACHE:-/var/cache/edgestream-fresh-check}
log=${FRESH_LOG:-/var/tmp/edgestream-fresh-check.log}
suite=${FRESH_SUITE:-bookworm}
work=""
result=FAIL

say() { echo "fresh-check: $*" | tee -a "$log" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; }
: >"$log"

# Mounts left under the root (there should be none: each step's namespace takes
# its own along), deepest first.
mounts_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1' | sort -r; }

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$work" ] && [ -d "$work" ]; then
        local m
        for m in $(mounts_under "$work/root"); do umount -l "$m" 2>/dev/null || true; done
        if [ -n "$(mounts_under "$work/root")" ]; then
            say "mounts remain under $work/root; not deleting it"
        else
            rm -rf --one-file-system "$work"
        fi
    fi
    echo "fresh-check: $result $(($(date +%s) - started)) $commit"
    exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# What this script itself runs on the host.
host_missing=()
command -v mmdebstrap >/dev/null || host_missing+=(mmdebstrap)
command -v ip >/dev/null || host_missing+=(iproute2)
if ((${#host_missing[@]})); then
    say "installing ${host_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${host_missing[@]}" >>"$log"
fi

mkdir -p "$cache/debs" "$cache/npm"
work=$(mktemp -d /var/tmp/edgestream-fresh.XXXXXX)
root=$work/root

# This machine's own apt sources (one-line and deb822 files alike).
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && sources+=("$f")
done
((${#sources[@]})) || { say "no apt sources on this machine"; exit 1; }

say "building a $suite root in $root (log: $log)"
# --skip=download/empty and essential/unlink keep the .debs it fetched, which
# the sync hooks move between the cache and the root (mmdebstrap(1), "cache").
# make itself is the one thing given: the README's commands are make targets.
mmdebstrap --variant=apt --include=make --skip=download/empty --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $cache/debs /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
    "$suite" "$root" "${sources[@]}" >>"$log" 2>&1 || { say "mmdebstrap failed"; exit 1; }
rm -f "$root"/var/cache/apt/archives/*.deb

mkdir -p "$root/work/main" "$root/work/shared"
git -C "$repo" archive HEAD | tar -x -C "$root/work/main"
cp -a "$shared/." "$root/work/shared/"
# This machine's way out comes along, as a new machine of its kind has it: name
# resolution, and the certificates its network's TLS proxy is trusted by (local
# CAs, the bundle, and the variables that point Node.js and OpenSSL at it).
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -aL /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
passed_env=()
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy no_proxy; do
    [ -n "${!v:-}" ] || continue
    passed_env+=("$v=${!v}")
    if [ -f "${!v}" ]; then
        mkdir -p "$root$(dirname "${!v}")"
        cp -L "${!v}" "$root${!v}"
    fi
done
# apt-get inside keeps what it downloads: the cache is mounted there.
echo 'APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/50keep-downloads"

# in_root [--net] SECONDS COMMAND: COMMAND as root's bash inside the chroot, in
# fresh mount and PID namespaces (and a network namespace with only loopback
# when --net), with the environment of a new login and CI=true.
in_root() {
    local net=()
    if [ "$1" = --net ]; then net=(--net); shift; fi
    local seconds=$1 command=$2
    timeout --kill-after=30 "$seconds" \
        unshare --mount --pid --fork --kill-child --propagation private "${net[@]}" \
        /bin/bash -euo pipefail -c '
            root=$1 cache=$2 command=$3
            [ -z "$4" ] || ip link set lo up
            mount -t proc proc "$root/proc"
            mount -t sysfs sysfs "$root/sys"
            mount --bind /dev "$root/dev"
            mount --bind /dev/pts "$root/dev/pts"
            mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
            mount -t tmpfs -o mode=1777 tmp "$root/tmp"
            mount --bind "$cache/debs" "$root/var/cache/apt/archives"
            mkdir -p "$root/root/.npm"
            mount --bind "$cache/npm" "$root/root/.npm"
            shift 4
            exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" \
                /bin/bash -c "cd /work/main && $command"
        ' in_root "$root" "$cache" "$command" "${net[*]}" "${passed_env[@]}"
}

say "make test (in the clean root)"
if ! in_root 5400 'make test' >>"$log" 2>&1; then
    say "make test failed: $(grep -E 'tests passed|tests failed' "$log" | tail -n 2 | tr '\n' ' ')"
    exit 1
fi
say "make test: $(grep -E 'tests passed' "$log" | tail -n 2 | tr '\n' ' ')"

# The demo streams 30 s; meanwhile its origin's playlist is fetched once a
# second and the most segments it ever listed are kept.
say "make demo for 30 s (in the clean root, own network namespace)"
in_root --net 900 '
    DEMO_DURATION=30 make demo >/tmp/demo.log 2>&1 &
    demo=$!
    most=0
    while kill -0 $demo 2>/dev/null; do
        n=$(curl -sf --max-time 2 http://127.0.0.1:8080/live/cam_floor/stream.m3u8 | grep -c "^#EXTINF" || true)
        [ "${n:-0}" -gt "$most" ] && most=$n
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
