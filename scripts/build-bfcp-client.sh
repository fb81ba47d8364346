#!/usr/bin/env bash
# Builds the tests' BFCP client (test/interop/bfcp-client/bfcp-client.c → build/bfcp-client)
# with the system C compiler against Debian's libre (libre-dev 1.1, which carries BFCP). Rebuilt
# only when the source or this script changed (a stamp beside the output), so a second run
# costs nothing. Called by scripts/setup.sh for the test set-up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/test/interop/bfcp-client/bfcp-client.c"
out_dir="$root/test/interop/bfcp-client/build"
out="$out_dir/bfcp-client"
want="$(sha256sum "$src" "$0" | sha256sum | cut -c1-16)"
if [ -x "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
mkdir -p "$out_dir"
echo "[setup] building the BFCP test client…" >&2
tmp="$out.tmp.$$"
# libre's headers expect the platform's HAVE_* macros (its own build passes them).
# shellcheck disable=SC2046
if ! cc -O2 -std=gnu11 -Wall -Wextra -DHAVE_INTTYPES_H -DHAVE_STDBOOL_H -DHAVE_INET6 "$src" -o "$tmp" $(pkg-config --cflags --libs libre); then
  rm -f "$tmp"
  echo "[setup] error: the BFCP test client did not compile (compiler output above); libre-dev and pkg-config must be installed" >&2
  exit 1
fi
mv -f "$tmp" "$out"
echo "$want" > "$out.stamp"
