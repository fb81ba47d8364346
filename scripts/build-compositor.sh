#!/usr/bin/env bash
# Builds the native GStreamer programs with the system C compiler against Debian's GStreamer
# 1.22: the MCU's picture engine (media/mcu/native/vcbox-compositor.c → vcbox-compositor) and
# the transcoder of video a receiver cannot take as sent (media/meetings/native/vcbox-transcoder.c
# → vcbox-transcoder). Each is rebuilt only when its source or this script changed (a stamp
# beside the output), so a second run costs nothing. Called by scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# build NAME SOURCE-DIR: SOURCE-DIR/NAME.c → SOURCE-DIR/build/NAME
build() {
  local name="$1" dir="$root/$2"
  local src="$dir/$name.c" out_dir="$dir/build"
  local out="$out_dir/$name"
  local want
  want="$(cat "$src" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
  if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  mkdir -p "$out_dir"
  echo "[setup] building $name…" >&2
  local tmp="$out.tmp.$$"
  # shellcheck disable=SC2046
  if ! cc -O2 -std=gnu11 -Wall -Wextra -Wno-unused-parameter "$src" -o "$tmp" $(pkg-config --cflags --libs gstreamer-1.0 gio-2.0); then
    rm -f "$tmp"
    echo "[setup] error: $name did not compile (compiler output above); libgstreamer1.0-dev and pkg-config must be installed" >&2
    exit 1
  fi
  mv -f "$tmp" "$out"
  echo "$want" > "$out.stamp"
}

build vcbox-compositor media/mcu/native
build vcbox-transcoder media/meetings/native
