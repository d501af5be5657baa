#!/usr/bin/env bash
# scripts/package-check.sh: the Debian package on a clean Debian 12 root.
#
# Builds the .deb (`make package`; PACKAGE_DEB=path checks that file instead),
# makes a minimal Debian 12 root with mmdebstrap --variant=apt from this
# machine's own apt sources, installs the package there with
# `apt-get install ./edgestream_*.deb` (so apt must find every dependency by
# itself), and runs `edgestream --check --config /etc/edgestream/cameras.yaml`
# in it, then checks the system user, the state directory, the conffile's
# owner and mode, and prints the installed size.
#
# Each step in the root runs with chroot in its own mount and PID namespaces
# (unshare): its mounts (/proc, /dev, /sys, a tmpfs /tmp, the .deb cache) and
# processes vanish with it; the root itself is removed on exit, also when
# interrupted. Downloaded .debs are kept in FRESH_CACHE/debs
# (/var/cache/edgestream-fresh-check/debs), the cache `make fresh-check` uses.
# The last line printed is "package-check: PASS|FAIL <seconds> <deb>".
# Needs root. Not part of `make test`: a few minutes.
set -euo pipefail

started=$(date +%s)
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cache=${FRESH_CACHE:-/var/cache/edgestream-fresh-check}
log=${PACKAGE_LOG:-/var/tmp/edgestream-package-check.log}
suite=${FRESH_SUITE:-bookworm}
work=""
deb=""
child=""
result=FAIL

# The script's own stdout and stderr, kept: a trap may run while a step's
# output goes to the log.
exec 3>&1 4>&2
say() { echo "package-check: $*" | tee -a "$log" >&4; }

[ "$(id -u)" -eq 0 ] || { echo "package-check: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; }
: >"$log"

# Mounts left under the root (each step's namespace takes its own along, so
# there should be none), deepest first.
mounts_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1' | sort -r; }

cleanup() {
    local status=$?
    # A second Ctrl-C must not leave the root half deleted.
    trap - EXIT
    trap '' INT TERM
    # The step still running (mmdebstrap, or a chroot step: timeout relays the
    # signal to unshare, whose --kill-child ends the namespace's processes,
    # and its mounts with them).
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    if [ -n "$work" ] && [ -d "$work" ]; then
        local m
        for m in $(mounts_under "$work/root"); do umount -l "$m" 2>/dev/null || true; done
        if [ -n "$(mounts_under "$work/root")" ]; then
            say "mounts remain under $work/root; not deleting it"
        else
            rm -rf --one-file-system "$work"
        fi
    fi
    echo "package-check: $result $(($(date +%s) - started)) ${deb:-no .deb}" >&3
    exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# run_child COMMAND...: COMMAND in the background, waited for. A signal to this
# script then runs its trap at once (bash defers traps while a foreground
# command runs), and cleanup stops the step.
run_child() {
    "$@" &
    child=$!
    local status=0
    wait "$child" || status=$?
    child=""
    return "$status"
}

command -v mmdebstrap >/dev/null || {
    say "installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >>"$log"
}

if [ -n "${PACKAGE_DEB:-}" ]; then
    deb=$(realpath "$PACKAGE_DEB")
else
    say "make package (log: $log)"
    make -C "$repo" package >>"$log" 2>&1 || { say "make package failed"; exit 1; }
    deb=$(ls -t "$repo"/edgestream_*_"$(dpkg --print-architecture)".deb | head -n 1)
fi
[ -f "$deb" ] || { say "no package: $deb"; exit 1; }
say "package: $deb ($(du -k "$deb" | cut -f1) KiB)"

mkdir -p "$cache/debs"
work=$(mktemp -d /var/tmp/edgestream-package.XXXXXX)
root=$work/root

# This machine's own apt sources (one-line and deb822 files alike).
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && sources+=("$f")
done
((${#sources[@]})) || { say "no apt sources on this machine"; exit 1; }

say "building a clean $suite root in $root"
# As scripts/fresh-check.sh: keep what it downloads, through the shared cache.
run_child mmdebstrap --variant=apt --skip=download/empty --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $cache/debs /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
    "$suite" "$root" "${sources[@]}" >>"$log" 2>&1 || { say "mmdebstrap failed"; exit 1; }
rm -f "$root"/var/cache/apt/archives/*.deb
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
echo 'APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/50keep-downloads"
mkdir -p "$root/root/package"
cp "$deb" "$root/root/package/"

# in_root [--net] SECONDS COMMAND: COMMAND as root's bash inside the chroot, in
# fresh mount and PID namespaces (and a network namespace with only loopback
# when --net), with the environment of a new login.
in_root() {
    local net=()
    if [ "$1" = --net ]; then net=(--net); shift; fi
    local seconds=$1 command=$2
    run_child timeout --kill-after=30 "$seconds" \
        unshare --mount --pid --fork --kill-child --propagation private "${net[@]}" \
        /bin/bash -euo pipefail -c '
            root=$1 cache=$2 command=$3
            [ -z "$4" ] || ip link set lo up
            mount -t proc proc "$root/proc"
            mount -t sysfs sysfs "$root/sys"
            mount --bind /dev "$root/dev"
            mount --bind /dev/pts "$root/dev/pts"
            mount -t tmpfs -o mode=1777 tmp "$root/tmp"
            mount --bind "$cache/debs" "$root/var/cache/apt/archives"
            exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                /bin/bash -euo pipefail -c "cd /root/package && $command"
        ' in_root "$root" "$cache" "$command" "${net[*]}"
}

name=$(basename "$deb")
say "apt-get install ./$name (in the clean root)"
if ! in_root 1800 "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./$name" >>"$log" 2>&1; then
    say "apt-get install failed: $(grep -E '^E:|Depends:' "$log" | tail -n 5 | tr '\n' ' ')"
    exit 1
fi
say "$(grep -E '^(Need to get|After this operation)' "$log" | tail -n 2 | tr '\n' ' ')"

say "edgestream --check --config /etc/edgestream/cameras.yaml (in the clean root)"
in_root 120 '
    check=$(edgestream --check --config /etc/edgestream/cameras.yaml 2>&1) && status=0 || status=$?
    echo "check: exit $status: $check"
    echo "version: $(edgestream --version)"
    echo "user: $(getent passwd edgestream)"
    echo "state: $(stat -c "%U:%G %a" /var/lib/edgestream)"
    echo "config: $(stat -c "%U:%G %a" /etc/edgestream/cameras.yaml)"
    echo "conffiles: $(cat /var/lib/dpkg/info/edgestream.conffiles)"
    echo "web: $(ls /usr/share/edgestream/web | tr "\n" " ")"
    echo "unit: $(ls /lib/systemd/system/edgestream.service)"
    echo "enabled: $(readlink /etc/systemd/system/multi-user.target.wants/edgestream.service || echo no)"
    echo "installed-size: $(dpkg-query -W -f="\${Installed-Size}" edgestream) KiB (package), $(du -sk --apparent-size /usr/bin/edgestream /usr/share/edgestream | awk "{s+=\$1} END {print s}") KiB (program and web files)"
    [ "$status" -eq 0 ] && getent passwd edgestream >/dev/null && [ -d /var/lib/edgestream ]
' >"$work/check.out" 2>&1 && ok=1 || ok=0
cat "$work/check.out" >>"$log"
while IFS= read -r line; do say "$line"; done <"$work/check.out"
[ "$ok" -eq 1 ] || exit 1

# The installed program as the service runs it (its user, $STATE_DIRECTORY,
# started from /), in its own network namespace (the origin's port 8080 is
# this machine's too): the origin serves the installed web files and the
# local streams go to the state directory.
say "edgestream as the user edgestream from / for 8 s (in the clean root, own network namespace)"
in_root --net 120 '
    cd /
    runuser -u edgestream -- env STATE_DIRECTORY=/var/lib/edgestream \
        edgestream --config /etc/edgestream/cameras.yaml --all --quiet --duration 8 \
        2>/tmp/daemon.log &
    daemon=$!
    get() {
        exec 5<>/dev/tcp/127.0.0.1/8080 || return 1
        printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n" "$1" >&5
        head -n 1 <&5 | tr -d "\r"
        exec 5<&-
    }
    for _ in $(seq 50); do get / >/dev/null 2>&1 && break; sleep 0.1; done
    echo "GET /: $(get /)"
    echo "GET /player.html: $(get /player.html)"
    wait $daemon && status=0 || status=$?
    echo "daemon: exit $status as $(stat -c %U /var/lib/edgestream/streams 2>/dev/null || echo nobody)"
    echo "streams: $(cd /var/lib/edgestream && find streams -maxdepth 2 -type d | tr "\n" " ")"
    grep -E "origin event=listening|sink.local" /tmp/daemon.log | cut -c26- | head -n 3
    [ "$status" -eq 0 ] && [ -d /var/lib/edgestream/streams ]
' >"$work/run.out" 2>&1 && ok=1 || ok=0
cat "$work/run.out" >>"$log"
while IFS= read -r line; do say "$line"; done <"$work/run.out"
[ "$ok" -eq 1 ] || exit 1
grep -q "GET /player.html: HTTP/1.1 200" "$work/run.out" || { say "the installed web files were not served"; exit 1; }

result=PASS
