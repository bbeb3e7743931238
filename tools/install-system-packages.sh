#!/usr/bin/env bash
# The Debian/Ubuntu packages FanQC needs besides Python: Qt's xcb platform plugin libraries (a desktop has
# most; a minimal system lacks libxcb-icccm4 and libxcb-keysyms1, and Qt's message then blames
# libxcb-cursor0), and for the tests a virtual X server with a window manager and xdotool, and mosquitto.
# usage: sudo tools/install-system-packages.sh [--tests]
set -euo pipefail
packages=(libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-image0 libxcb-render-util0 libxcb-randr0
          libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3)
if [ "${1:-}" = "--tests" ]; then
  packages+=(xvfb openbox xdotool mosquitto)  # mosquitto: the real MQTT broker of the line I/O tests
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "Install these system packages with your package manager: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
