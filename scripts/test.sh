#!/usr/bin/env bash
# THE TEST COMMAND: sets up what the tests need (idempotent), then type-checks, lints and runs
# the whole suite (tap, test files in parallel), and ends with one line
# `N passed, N failed, N skipped`. Exit status 0 only when everything passed.
# Extra arguments go to tap (e.g. a single test file).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh" test

artifacts="$root/test-artifacts"
rm -rf "$artifacts" && mkdir -p "$artifacts"
status=0

echo "== type-check (tsc)"
if ! node node_modules/typescript/bin/tsc -p tsconfig.json || ! node node_modules/typescript/bin/tsc -p web/tsconfig.json; then status=1; static_failed="type-check"; fi
echo "== lint (biome)"
if ! node_modules/.bin/biome lint --error-on-warnings --reporter=summary . ; then status=1; static_failed="${static_failed:+$static_failed, }lint"; fi

echo "== tests (tap)"
set +e
VCBOX_TEST_ARTIFACTS="$artifacts" node_modules/.bin/tap --reporter=tap "$@" | tee "$artifacts/tap.txt"
tap_status=${PIPESTATUS[0]}
set -e
[ "$tap_status" -ne 0 ] && status=1

# The interoperability table the real-client tests wrote (test/interop/).
node scripts/interop-table.ts "$artifacts/interop" > "$artifacts/interop.md" || true
node scripts/test-summary.ts "$artifacts/tap.txt" ${static_failed:+--failed-check "$static_failed"}
exit "$status"
