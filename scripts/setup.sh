#!/usr/bin/env bash
# Idempotent set-up shared by the run and test commands:
#   1. Debian packages the appliance (or, with `test`, its test suite) needs — apt-get only for
#      what dpkg says is missing;
#   2. the pinned Node 22 runtime (scripts/node-runtime.sh);
#   3. npm dependencies (npm ci, skipped while package-lock.json and Node are unchanged);
#   4. the mediasoup worker, built from mediasoup's npm tarball (cached outside the clone);
#   5. the audio mixer's codec addon (scripts/build-codec-addon.sh), the MCU compositor and the video transcoder
#      (scripts/build-compositor.sh), the TURN relay guard (scripts/build-relay-guard.sh) and the browser join
#      page's script (scripts/build-web.sh).
# Usage: scripts/setup.sh [run|test]   (default: run). Source it to keep its PATH.
# A second run with nothing changed takes a second or two.
set -euo pipefail

vcbox_setup_purpose="${1:-run}"
vcbox_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Runtime: TLS certificate generation, process tools, and the libraries the worker links.
# shellcheck disable=SC2207
vcbox_apt_run=(ca-certificates openssl procps util-linux $(cat "$vcbox_root/scripts/mediasoup-worker/runtime-packages.txt")
  gcc libc6-dev libopus-dev libspandsp-dev  # the mixer's codec addon (built below) and its libraries
  espeak-ng                                # the IVR prompts, spoken from text at set-up
  # the MCU compositor (built below): GStreamer, its VP8/H.264 codecs and Pango captions
  libgstreamer1.0-dev pkg-config gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x fonts-dejavu-core
  coturn)                                  # the TURN relay for browsers (run by server/turn/)
# Tests: real SIP peer (sipp), real media peer (ffmpeg), network namespaces, SQLite shell,
# a real browser (Debian's Chromium, driven by playwright-core), a real syslog collector
# (rsyslog, its TLS driver in rsyslog-gnutls; the tests start their own rsyslogd, never the system's),
# curl (a terminal's HTTP client with its own Digest, for the firmware downloads), a real SIP
# softphone (baresip, run in a test-made network namespace), a CJK font so the console's
# Chinese screenshots show characters (WenQuanYi Micro Hei: 1.6 MB, not Noto CJK's 56 MB), and
# Info-ZIP's unzip (reads the log exports the way an administrator's tools do), and systemd for
# its `systemd-analyze security --offline`, which rates the units' sandboxes (no systemd runs).
# Third-party clients of the interop tests (test/interop/): linphone's daemon (linphone-cli) with
# the OpenH264 plugin for H.264, PulseAudio (each test's own server: a sine source as microphone,
# a null sink recorded by parec as loudspeaker; no sound card), baresip's FFmpeg codecs (H.264); libre's headers for the BFCP test client
# (test/interop/bfcp-client, built below); Firefox ESR (driven over WebDriver BiDi, its profile
# keeping it on loopback) and strace (the test proves with it that Firefox tries no other address).
# libfaketime: the clock-jump test (test/reliability/clock-jump.test.ts) runs the box with its
# wall clock moved forward and back (LD_PRELOAD; the monotonic clock left real).
vcbox_apt_test=(sip-tester ffmpeg iproute2 sqlite3 chromium rsyslog rsyslog-gnutls curl baresip-core fonts-wqy-microhei unzip systemd
  linphone-cli mediastreamer2-plugin-openh264 pulseaudio pulseaudio-utils baresip-ffmpeg libre-dev firefox-esr strace libfaketime)

vcbox_missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

vcbox_apt_install() {
  local missing
  missing=$(vcbox_missing_packages "$@")
  [ -z "$missing" ] && return 0
  echo "[setup] installing Debian packages: $(echo $missing | tr '\n' ' ')" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
  # shellcheck disable=SC2086
  $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $missing >/dev/null
}

vcbox_coturn_new=$(vcbox_missing_packages coturn)
vcbox_apt_install "${vcbox_apt_run[@]}"
# The box runs coturn itself from its settings; the package's own service, started by apt on a
# machine with systemd, would hold the TURN port. Only when this set-up installed it.
if [ -n "$vcbox_coturn_new" ] && [ -d /run/systemd/system ]; then
  vcbox_sudo=""
  [ "$(id -u)" -ne 0 ] && vcbox_sudo="sudo"
  $vcbox_sudo systemctl disable --now coturn.service >/dev/null 2>&1 || true
  unset vcbox_sudo
fi
unset vcbox_coturn_new
if [ "$vcbox_setup_purpose" = "test" ]; then vcbox_apt_install "${vcbox_apt_test[@]}"; fi

# One set-up at a time per clone: the run and test commands (and tests that start the run
# command) may overlap, and two `npm ci` in one folder would trample each other.
vcbox_lock="${TMPDIR:-/tmp}/vcbox-setup-$(echo "$vcbox_root" | sha256sum | cut -c1-12).lock"
exec {vcbox_lock_fd}>"$vcbox_lock"
flock "$vcbox_lock_fd"

# shellcheck source=scripts/node-runtime.sh
source "$vcbox_root/scripts/node-runtime.sh"

# npm dependencies: reinstall only when the lock file or the Node version changed.
vcbox_stamp="$vcbox_root/node_modules/.vcbox-installed"
vcbox_want="$(sha256sum "$vcbox_root/package-lock.json" | cut -c1-16)-$(node --version)"
if [ "$(cat "$vcbox_stamp" 2>/dev/null)" != "$vcbox_want" ]; then
  echo "[setup] installing npm dependencies…" >&2
  # MEDIASOUP_WORKER_BIN makes mediasoup's install script skip its own (network) build;
  # the worker is built below from the same package's sources.
  vcbox_log="$(mktemp)"
  if ! (cd "$vcbox_root" && MEDIASOUP_WORKER_BIN=/dev/null npm ci --no-audit --no-fund --loglevel=error >"$vcbox_log" 2>&1); then
    grep -v 'Unknown \(env\|user\) config' "$vcbox_log" >&2 || true
    echo "[setup] error: npm ci failed (output above); check the network to the npm registry and run again" >&2
    exit 1
  fi
  rm -f "$vcbox_log"
  echo "$vcbox_want" > "$vcbox_stamp"
fi

# mediasoup worker: rebuilt (or copied from its cache) when its recipe — the build script,
# its patches and helper files — changed since the binary in node_modules was made.
vcbox_worker_dir="$vcbox_root/node_modules/mediasoup/worker/out/Release"
vcbox_recipe="$(cd "$vcbox_root" && find scripts/build-mediasoup-worker.sh scripts/mediasoup-worker -type f ! -name runtime-packages.txt -print | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)"
if [ ! -x "$vcbox_worker_dir/mediasoup-worker" ] || [ "$(cat "$vcbox_worker_dir/.vcbox-recipe" 2>/dev/null)" != "$vcbox_recipe" ]; then
  bash "$vcbox_root/scripts/build-mediasoup-worker.sh" "$vcbox_root/node_modules/mediasoup"
  echo "$vcbox_recipe" > "$vcbox_worker_dir/.vcbox-recipe"
fi

# The audio mixer's codec addon (Opus, G.722, G.711), rebuilt only when its source changed.
bash "$vcbox_root/scripts/build-codec-addon.sh"
bash "$vcbox_root/scripts/build-compositor.sh"
# The TURN relay's port guard (coturn relays only to the media ports).
bash "$vcbox_root/scripts/build-relay-guard.sh"
# The browser join page's script (esbuild bundle), rebuilt only when its sources changed.
bash "$vcbox_root/scripts/build-web.sh"
# The IVR prompts (espeak-ng, zh-CN and en), rebuilt only when their texts changed.
node "$vcbox_root/scripts/build-prompts.ts"
# The tests' BFCP client (libre), for the test set-up only.
if [ "$vcbox_setup_purpose" = "test" ]; then bash "$vcbox_root/scripts/build-bfcp-client.sh"; fi
flock -u "$vcbox_lock_fd"
exec {vcbox_lock_fd}>&-
unset vcbox_worker_dir vcbox_recipe vcbox_setup_purpose vcbox_stamp vcbox_want vcbox_lock vcbox_lock_fd
