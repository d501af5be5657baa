#!/usr/bin/env bash
# Installs what edgestream needs to build, test and demo on Debian 12, and
# nothing that is already there. Run as root (or with sudo available).
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang-format
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
    libavdevice-dev libavfilter-dev ffmpeg
    libyaml-dev libcmocka-dev libcurl4-openssl-dev libssl-dev
    libh2o-evloop-dev zlib1g-dev nginx
    libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav
    python3 procps
    chromium postgresql clang
)
packages+=("$@")

missing=()

for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done

# Node.js 20.19+ for the web build (Vite 8). Debian 12's own nodejs is 18: it is
# installed only where there is no node at all, and then the build says why it fails.
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
