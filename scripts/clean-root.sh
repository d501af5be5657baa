# scripts/clean-root.sh: a clean Debian 12 root to run things in, for
# scripts/fresh-check.sh and scripts/package-check.sh (sourced, not run).
#
#   clean_root_begin NAME LOG   say/cleanup for a script called NAME, LOG truncated;
#                               the script sets `result=PASS` when it passed and
#                               `summary` for its last line
#   clean_root_build            a minimal root (mmdebstrap --variant=apt, plus
#                               ROOT_INCLUDE packages) from this machine's apt
#                               sources in $root, with its resolver and TLS trust
#   in_root [--net] SECONDS DIR COMMAND
#                               COMMAND in DIR as root's bash inside the chroot
#
# Each in_root step runs in its own mount and PID namespaces (unshare): its
# mounts (/proc, /sys, /dev, /dev/pts, /dev/shm, a tmpfs /tmp, the caches) and
# every process it started vanish with it, even when the script is
# interrupted; --net adds a network namespace with only loopback, so fixed
# ports cannot meet this machine's. The root is removed on exit.
#
# Downloaded .debs (and npm's cache) stay in FRESH_CACHE
# (/var/cache/edgestream-fresh-check), so a second run downloads nothing again.

cache=${FRESH_CACHE:-/var/cache/edgestream-fresh-check}
suite=${FRESH_SUITE:-bookworm}
started=$(date +%s)
work=""
child=""
result=FAIL
summary=""
passed_env=()

clean_root_begin() {
    script_name=$1
    log=$2
    [ "$(id -u)" -eq 0 ] || { echo "$script_name: needs root (mmdebstrap, chroot, mounts)" >&2; exit 2; }
    : >"$log"
    # The script's own stdout and stderr, kept: a trap may run while a step's
    # output goes to the log.
    exec 3>&1 4>&2
    trap clean_root_cleanup EXIT
    trap 'say "interrupted"; exit 130' INT TERM
    mkdir -p "$cache/debs" "$cache/npm"
}

say() { echo "$script_name: $*" | tee -a "$log" >&4; }

# Mounts left under the root (each step's namespace takes its own along, so
# there should be none), deepest first.
mounts_under() { findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1' | sort -r; }

clean_root_cleanup() {
    local status=$?
    # A second Ctrl-C must not leave the root half deleted.
    trap - EXIT
    trap '' INT TERM
    # The step still running: timeout relays the signal to unshare, whose
    # --kill-child ends the namespace's processes, and its mounts with them.
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
    echo "$script_name: $result $(($(date +%s) - started)) $summary" >&3
    exit "$status"
}

# run_child COMMAND...: COMMAND in the background, waited for. A signal to the
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

clean_root_build() {
    # What the scripts themselves run on this machine.
    local host_missing=()
    command -v mmdebstrap >/dev/null || host_missing+=(mmdebstrap)
    command -v ip >/dev/null || host_missing+=(iproute2)
    if ((${#host_missing[@]})); then
        say "installing ${host_missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${host_missing[@]}" >>"$log"
    fi

    work=$(mktemp -d "/var/tmp/edgestream-$script_name.XXXXXX")
    root=$work/root

    # This machine's own apt sources (one-line and deb822 files alike).
    local sources=() f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -qE '^[[:space:]]*(deb|Types:)' "$f" && sources+=("$f")
    done
    ((${#sources[@]})) || { say "no apt sources on this machine"; exit 1; }

    local include=()
    [ -z "${ROOT_INCLUDE:-}" ] || include=(--include="$ROOT_INCLUDE")
    say "building a clean $suite root in $root (log: $log)"
    # --skip=download/empty and essential/unlink keep the .debs it fetched,
    # which the sync hooks move between the cache and the root (mmdebstrap(1)).
    run_child mmdebstrap --variant=apt "${include[@]}" --skip=download/empty --skip=essential/unlink \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
        --setup-hook="sync-in $cache/debs /var/cache/apt/archives/" \
        --customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
        "$suite" "$root" "${sources[@]}" >>"$log" 2>&1 || { say "mmdebstrap failed"; exit 1; }
    rm -f "$root"/var/cache/apt/archives/*.deb
    # apt-get inside keeps what it downloads: the cache is mounted there.
    echo 'APT::Keep-Downloaded-Packages "true";' >"$root/etc/apt/apt.conf.d/50keep-downloads"

    # This machine's way out comes along, as a new machine of its kind has it:
    # name resolution, and the certificates its network's TLS proxy is trusted
    # by (local CAs, the bundle, and the variables that point Node.js and
    # OpenSSL at it).
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    if [ -d /usr/local/share/ca-certificates ]; then
        mkdir -p "$root/usr/local/share/ca-certificates"
        cp -aL /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
    fi
    local v
    for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy no_proxy; do
        [ -n "${!v:-}" ] || continue
        passed_env+=("$v=${!v}")
        if [ -f "${!v}" ]; then
            mkdir -p "$root$(dirname "${!v}")"
            cp -L "${!v}" "$root${!v}"
        fi
    done
}

in_root() {
    local net=()
    if [ "$1" = --net ]; then net=(--net); shift; fi
    local seconds=$1 dir=$2 command=$3
    run_child timeout --kill-after=30 "$seconds" \
        unshare --mount --pid --fork --kill-child --propagation private "${net[@]}" \
        /bin/bash -euo pipefail -c '
            root=$1 cache=$2 dir=$3 command=$4
            [ -z "$5" ] || ip link set lo up
            mount -t proc proc "$root/proc"
            mount -t sysfs sysfs "$root/sys"
            mount --bind /dev "$root/dev"
            mount --bind /dev/pts "$root/dev/pts"
            mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
            mount -t tmpfs -o mode=1777 tmp "$root/tmp"
            mount --bind "$cache/debs" "$root/var/cache/apt/archives"
            mkdir -p "$root/root/.npm"
            mount --bind "$cache/npm" "$root/root/.npm"
            shift 5
            exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true \
                PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" \
                /bin/bash -euo pipefail -c "cd $dir && $command"
        ' in_root "$root" "$cache" "$dir" "$command" "${net[*]}" "${passed_env[@]}"
}
