#!/usr/bin/env bash
# Builds the TURN relay's port guard (server/turn/native/relay-guard.c → relay-guard.so, loaded
# into coturn by server/turn/turn-service.ts) with the system C compiler. Rebuilt only when the
# source or this script changed (a stamp beside the output), so a second run costs nothing.
# Called by scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/server/turn/native/relay-guard.c"
out_dir="$root/server/turn/native/build"
out="$out_dir/relay-guard.so"
want="$(sha256sum "$src" "$0" | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
mkdir -p "$out_dir"
echo "[setup] building the TURN relay guard…" >&2
tmp="$out.tmp.$$"
if ! cc -O2 -std=gnu11 -Wall -Wextra -shared -fPIC "$src" -o "$tmp" -ldl; then
  rm -f "$tmp"
  echo "[setup] error: the TURN relay guard did not compile (compiler output above); gcc and libc6-dev must be installed" >&2
  exit 1
fi
mv -f "$tmp" "$out"
echo "$want" > "$out.stamp"
