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
# scripts/clean-root.sh says how the root is made, mounted and cleaned up
# (also when interrupted), and where the .deb cache is (the one `make
# fresh-check` uses).
# The last line printed is "package-check: PASS|FAIL <seconds> <deb>".
# Needs root. Not part of `make test`: a few minutes.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
# shellcheck source=scripts/clean-root.sh
. "$repo/scripts/clean-root.sh"
clean_root_begin package-check "${PACKAGE_LOG:-/var/tmp/edgestream-package-check.log}"
deb=""
summary="no .deb"

if [ -n "${PACKAGE_DEB:-}" ]; then
    deb=$(realpath "$PACKAGE_DEB")
else
    say "make package (log: $log)"
    make -C "$repo" package >>"$log" 2>&1 || { say "make package failed"; exit 1; }
    deb=$(ls -t "$repo"/edgestream_*_"$(dpkg --print-architecture)".deb | head -n 1)
fi
[ -f "$deb" ] || { say "no package: $deb"; exit 1; }
summary=$deb
say "package: $deb ($(du -k "$deb" | cut -f1) KiB)"

clean_root_build
mkdir -p "$root/root/package"
cp "$deb" "$root/root/package/"

name=$(basename "$deb")
say "apt-get install ./$name (in the clean root)"
if ! in_root 1800 /root/package "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ./$name" >>"$log" 2>&1; then
    say "apt-get install failed: $(grep -E '^E:|Depends:' "$log" | tail -n 5 | tr '\n' ' ')"
    exit 1
fi
say "$(grep -E '^(Need to get|After this operation)' "$log" | tail -n 2 | tr '\n' ' ')"

say "edgestream --check --config /etc/edgestream/cameras.yaml (in the clean root)"
in_root 120 /root/package '
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
in_root --net 120 /root/package '
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
