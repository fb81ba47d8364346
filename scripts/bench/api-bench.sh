#!/usr/bin/env bash
# Control-plane API benchmark: 1 000-row import time and accounts-list latency at 1 000 req/s.
# Sets up like the test command, then runs scripts/bench/api-bench.ts. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh" test
exec node "$root/scripts/bench/api-bench.ts" "$@"
