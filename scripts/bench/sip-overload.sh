#!/usr/bin/env bash
# SIP overload benchmark: REGISTER at 1×, 2×, 4× capacity, the box beside Kamailio (goodput,
# 503s, timeouts). Sets up what it needs (the test set-up plus Debian's kamailio), then runs
# scripts/bench/sip-overload.ts. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh" test
vcbox_apt_install kamailio
exec node "$root/scripts/bench/sip-overload.ts" "$@"
