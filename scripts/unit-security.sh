#!/usr/bin/env bash
# Prints the exposure score `systemd-analyze security` gives each vcbox service unit (systemd/),
# as installed: the units' @PREFIX@/@DATADIR@/… placeholders are filled in with install.sh's
# defaults first (the analyzer refuses a unit whose paths are not absolute). Offline: no running
# systemd is needed. Usage:
#   scripts/unit-security.sh            one line per unit: name, score, level
#   scripts/unit-security.sh --detail   the analyzer's full table per unit
# Exits non-zero when systemd-analyze is missing (Debian package `systemd`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
detail=0
[ "${1:-}" = "--detail" ] && detail=1
if ! command -v systemd-analyze >/dev/null; then
  echo "unit-security.sh: systemd-analyze is missing (apt-get install systemd)" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for unit in "$here"/systemd/vcbox*.service; do
  sed -e 's|@PREFIX@|/opt/vcbox|g' -e 's|@CONFDIR@|/etc/vcbox|g' -e 's|@DATADIR@|/var/lib/vcbox|g' -e 's|@LOGDIR@|/var/log/vcbox|g' \
    "$unit" > "$work/$(basename "$unit")"
done
for unit in "$work"/vcbox*.service; do
  name="$(basename "$unit")"
  out="$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)" || true
  [ "$detail" = 1 ] && echo "$out"
  # "→ Overall exposure level for vcbox-x.service: 1.9 OK 🙂"
  line="$(echo "$out" | grep 'Overall exposure level' || echo "$out" | tail -1)"
  echo "$line" | sed -E 's/.*: ([0-9.]+) ([A-Z]+).*/\1 \2/' | { read -r score level; printf '%-28s %s %s\n' "$name" "$score" "$level"; }
done
