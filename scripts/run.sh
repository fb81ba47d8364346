#!/usr/bin/env bash
# THE RUN COMMAND: sets everything up (idempotent, seconds on a second run), then runs the
# appliance in the foreground with its embedded defaults — data in ./data (SQLite, logs,
# generated TLS certificate), console on http://127.0.0.1:8080/, SIP on UDP/TCP 5060 and
# TLS 5061, BFCP (content sharing) on TCP/UDP 5090 and TLS 5091. Ctrl-C stops every process.
# Configuration: VCBOX_* variables or a JSON file named by VCBOX_CONFIG (docs/configuration.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$root/scripts/setup.sh" run
# The console's port on a dev machine (the stored web.httpPort, 80, needs root): fixed to 8080
# unless a configuration file or VCBOX_HTTP_PORT says otherwise (VCBOX_HTTP_PORT= empty: the
# stored setting).
if [ -z "${VCBOX_CONFIG:-}" ] && [ -z "${VCBOX_HTTP_PORT+set}" ]; then export VCBOX_HTTP_PORT=8080; fi
exec node "$root/server/supervisor/main.ts" "$@"
