#!/usr/bin/env bash
# Firefox ESR against a real box's join page, run by an operator (docs/interop.md): the suite
# drives Debian's Firefox ESR itself on loopback (test/interop/firefox.test.ts, over WebDriver
# BiDi); this opens it for a person to try against a box on the LAN, with a camera if wanted.
#
#   ./scripts/interop-firefox.sh <join URL> [--fake-media]
#
# e.g. ./scripts/interop-firefox.sh 'http://192.168.1.10:8080/join/?m=880051'
# Installs firefox-esr (Debian) when missing, starts it with a fresh profile of its own (no
# extensions, no saved permissions; removed afterwards) and, with --fake-media, a generated
# camera and microphone (media.navigator.streams.fake) instead of the real ones. What to check
# is printed; write the outcome into the interop table of docs/interop.md.
set -euo pipefail
url="${1:-}"
if [ -z "$url" ] || [[ "$url" != http*://*/join/* ]]; then
  echo "usage: $0 <join URL, e.g. http://BOX:8080/join/?m=MEETING> [--fake-media]" >&2
  exit 2
fi
fake="${2:-}"
if ! command -v firefox-esr >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "[interop-firefox] installing Debian's firefox-esr…" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends firefox-esr >/dev/null
fi
profile="$(mktemp -d "${TMPDIR:-/tmp}/vcbox-firefox-XXXXXX")"
trap 'rm -rf "$profile"' EXIT
{
  echo 'user_pref("browser.shell.checkDefaultBrowser", false);'
  echo 'user_pref("datareporting.policy.dataSubmissionEnabled", false);'
  echo 'user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);'
  if [ "$fake" = "--fake-media" ]; then
    echo 'user_pref("media.navigator.streams.fake", true);'
    echo 'user_pref("media.navigator.permission.disabled", true);'
  fi
} > "$profile/user.js"
echo "Firefox ESR $(firefox-esr --version 2>/dev/null | awk '{print $NF}') opens $url"
cat <<'CHECK'
Check, with a SIP terminal (linphone, a room system) in the same meeting:
  1. the join page asks for a name (and the PIN if the meeting has one) and joins;
  2. you see the other participants (SFU) or the composed picture, and they see your camera;
  3. you hear them and they hear you (the generated microphone is a tone with --fake-media);
  4. the console's live meetings page lists the browser with its audio and video streams;
  5. leaving ends the browser's leg in the console.
Then record the row (Firefox ESR version, WebRTC, Opus, VP8, DTLS-SRTP, works/fails and why)
in docs/interop.md.
CHECK
firefox-esr --no-remote --new-instance --profile "$profile" "$url"
