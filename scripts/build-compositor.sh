#!/usr/bin/env bash
# Builds the MCU's picture engine (media/mcu/native/vcbox-compositor.c → vcbox-compositor)
# with the system C compiler against Debian's GStreamer 1.22. Rebuilt only when the source or
# this script changed (a stamp beside the output), so a second run costs nothing. Called by
# scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/media/mcu/native/vcbox-compositor.c"
out_dir="$root/media/mcu/native/build"
out="$out_dir/vcbox-compositor"
want="$(sha256sum "$src" "$0" | sha256sum | cut -c1-16)"
if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
mkdir -p "$out_dir"
echo "[setup] building the MCU compositor…" >&2
tmp="$out.tmp.$$"
# shellcheck disable=SC2046
if ! cc -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter "$src" -o "$tmp" $(pkg-config --cflags --libs gstreamer-1.0 gio-2.0); then
  rm -f "$tmp"
  echo "[setup] error: the MCU compositor did not compile (compiler output above); libgstreamer1.0-dev and pkg-config must be installed" >&2
  exit 1
fi
mv -f "$tmp" "$out"
echo "$want" > "$out.stamp"
