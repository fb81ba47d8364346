#!/usr/bin/env bash
# SIP benchmark: REGISTER/s (UDP vs Kamailio, TLS), p50/p99, P2P calls/s. Sets up what it needs
# (the test set-up plus Debian's kamailio), then runs scripts/bench/sip-bench.ts. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh" test
vcbox_apt_install kamailio
exec node "$root/scripts/bench/sip-bench.ts" "$@"
