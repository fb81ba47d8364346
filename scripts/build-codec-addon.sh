#!/usr/bin/env bash
# Builds the mixer's codec addon (media/audio-mixer/native/vcbox-codec.c → vcbox-codec.node)
# with the system C compiler against Debian's libopus and libspandsp and the pinned Node's
# headers. Rebuilt only when the source or the Node version changed (a stamp beside the
# output), so a second run costs nothing. Called by scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/media/audio-mixer/native/vcbox-codec.c"
out_dir="$root/media/audio-mixer/native/build"
out="$out_dir/vcbox-codec.node"
nodedir="${npm_config_nodedir:?source scripts/node-runtime.sh first}"
want="$(sha256sum "$src" "$0" | sha256sum | cut -c1-16)-$(node --version)"
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
mkdir -p "$out_dir"
echo "[setup] building the audio codec addon…" >&2
tmp="$out.tmp.$$"
if ! cc -O2 -std=c11 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -fvisibility=hidden \
  -DNODE_GYP_MODULE_NAME=vcbox_codec -I"$nodedir/include/node" \
  "$src" -o "$tmp" -lopus -lspandsp -lm; then
  rm -f "$tmp"
  echo "[setup] error: the codec addon did not compile (compiler output above); libopus-dev and libspandsp-dev must be installed" >&2
  exit 1
fi
mv -f "$tmp" "$out"
echo "$want" > "$out.stamp"
