#!/usr/bin/env bash
# Installs the vcbox appliance onto Debian 12: runtime packages, the pinned Node runtime, the
# application with its production dependencies and the built mediasoup worker (as a release
# folder PREFIX/releases/<version>-<build> with the link PREFIX/current the units run, the layout
# a system upgrade from the console switches), a system user, data/log/config directories, and
# the systemd units (vcbox.target and its four services, and the root maintenance job started
# by a path unit for upgrades, restarts and reboots asked for in the console).
# Run `./install.sh --help` for the options. Safe to run again (upgrades in place, keeps the
# configuration and the data).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./install.sh [options]

Installs the vcbox video-conferencing appliance on this Debian 12 machine.

  --root DIR      Install into DIR instead of / (a staging tree or an image). With a root
                  other than /, nothing on this machine is changed: no apt-get, no user is
                  created (a sysusers.d entry is written instead) and systemd is not touched.
  --prefix PATH   Where the software goes (default /opt/vcbox): PATH/node, PATH/releases/<version>-<build>
                  and PATH/current (the release the services run; a system upgrade switches it).
  --data-dir PATH Database, certificates and files (default /var/lib/vcbox).
  --log-dir PATH  Log folders web/, sip/, mcu/, turn/ (a file per process and day) and terminals/ (default /var/log/vcbox).
  --conf-dir PATH Configuration (default /etc/vcbox); config.json there is kept if present.
  --no-apt        Do not install Debian packages (they must already be there).
  --no-start      Install and enable the units, but do not start them.
  -h, --help      Show this help.

What it does:
  1. apt-get installs the runtime libraries (libuv1, libssl3, libsrtp2-1, libabsl, libopus0,
     libspandsp2, openssl).
  2. Runs scripts/setup.sh (pinned Node 22, npm dependencies, mediasoup worker build; cached).
  3. Copies Node to PREFIX/node and the application, keeping only production npm dependencies,
     to PREFIX/releases/<version>-<build>, and points PREFIX/current at it (the previous release
     is kept, older ones removed; a PREFIX/app of an older install.sh is removed).
  4. Writes CONF_DIR/config.json (data and log paths, the install root for upgrades; ports
     come from the settings: console 80, SIP 5060/5061, changed in the console) if it does not
     exist, plus sysusers.d and tmpfiles.d entries for user `vcbox`, and a sysctl.d entry that
     lets the SIP port's UDP receive buffer grow to 384 KB (net.core.rmem_max; raised at once
     when lower).
  5. Installs vcbox.target, vcbox-control.service, vcbox-signaling.service, vcbox-media.service,
     vcbox-turn.service, vcbox-stop-intent.service (says when the whole appliance stops, so
     calls end with BYE), vcbox-maintenance.service and vcbox-maintenance.path into
     /etc/systemd/system, then enables and starts vcbox.target and the path unit.

Afterwards: `systemctl status vcbox.target`; logs in LOG_DIR and `journalctl -u 'vcbox-*'`.
USAGE
}

root="/"
prefix="/opt/vcbox"
data_dir="/var/lib/vcbox"
log_dir="/var/log/vcbox"
conf_dir="/etc/vcbox"
use_apt=1
start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --prefix) prefix="${2:?--prefix needs a path}"; shift 2 ;;
    --data-dir) data_dir="${2:?--data-dir needs a path}"; shift 2 ;;
    --log-dir) log_dir="${2:?--log-dir needs a path}"; shift 2 ;;
    --conf-dir) conf_dir="${2:?--conf-dir needs a path}"; shift 2 ;;
    --no-apt) use_apt=0; shift ;;
    --no-start) start=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see ./install.sh --help)" >&2; exit 2 ;;
  esac
done

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(mkdir -p "$root" && cd "$root" && pwd)"
live=0; [ "$root" = "/" ] && live=1
dest() { echo "${root%/}$1"; }
say() { echo "[install] $*"; }

if [ "$live" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: installing onto this machine needs root (run it with sudo), or use --root DIR" >&2
  exit 1
fi

# 1-2. Packages and the build (setup installs only what is missing).
if [ "$live" = 1 ] && [ "$use_apt" = 1 ]; then
  say "runtime packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
  apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends \
    $(cat "$src/scripts/mediasoup-worker/runtime-packages.txt" 2>/dev/null) libopus0 libspandsp2 ca-certificates openssl >/dev/null
fi
say "building (scripts/setup.sh)"
# shellcheck source=scripts/setup.sh
source "$src/scripts/setup.sh" run
node_dir="$(dirname "$(dirname "$(command -v node)")")"

# 3. Software: a release folder and the `current` link the units run (server/upgrade/release-installer.ts
#    switches the same link for an upgrade from the console).
base="$(dest "$prefix")"
releases="$base/releases"
version="$(node -p "require('$src/package.json').version")"
build_time="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
build="$(date -u -d "$build_time" +%Y%m%d%H%M%S)"
commit="$(git -C "$src" rev-parse HEAD 2>/dev/null || true)"
release="$version-$build"
say "software into $releases/$release"
mkdir -p "$releases"
staging="$releases/.incoming-install-$$"
rm -rf "$staging" && mkdir -p "$staging"
cp -a "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/install.sh" "$staging/"
cp -a "$src/server" "$src/media" "$src/web" "$src/systemd" "$staging/"
cp -a "$src/node_modules" "$staging/node_modules"
(cd "$staging" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null 2>&1) || {
  echo "install.sh: could not drop the development dependencies in $staging" >&2; exit 1; }
printf '{\n  "version": "%s",\n  "build": "%s",\n  "buildTime": "%s",\n  "commit": "%s"\n}\n' "$version" "$build" "$build_time" "$commit" > "$staging/build-info.json"
previous="$(basename "$(readlink "$base/current" 2>/dev/null)" 2>/dev/null || true)"
rm -rf "${releases:?}/$release" && mv "$staging" "$releases/$release"
ln -sfn "releases/$release" "$base/.current-install-$$" && mv -T "$base/.current-install-$$" "$base/current"
# An older install.sh put the software in PREFIX/app; the units now run PREFIX/current.
rm -rf "$base/app" "$base/app.old"
for old in "$releases"/*; do
  name="$(basename "$old")"
  [ "$name" = "$release" ] || [ "$name" = "$previous" ] || rm -rf "$old"
done
rm -rf "$base/node.new" && cp -a "$node_dir" "$base/node.new"
rm -rf "$base/node" && mv "$base/node.new" "$base/node"

# 4. Configuration, user, directories.
mkdir -p "$(dest "$conf_dir")"
if [ ! -f "$(dest "$conf_dir")/config.json" ]; then
  say "configuration $(dest "$conf_dir")/config.json"
  cat > "$(dest "$conf_dir")/config.json" <<JSON
{
  "dataDir": "$data_dir",
  "logDir": "$log_dir",
  "logLevel": "info",
  "logToStdout": false,
  "http": { "host": "0.0.0.0" },
  "sip": { "host": "0.0.0.0" },
  "signaling": { "host": "127.0.0.1", "port": 9022 },
  "media": { "workers": 0 },
  "system": { "systemd": true },
  "upgrade": { "installRoot": "$prefix" }
}
JSON
else
  say "keeping the existing $(dest "$conf_dir")/config.json"
  # What an older install.sh did not write and upgrades from the console need: added, nothing else touched.
  VCBOX_PREFIX="$prefix" node - "$(dest "$conf_dir")/config.json" <<'NODE'
const fs = require('node:fs');
const file = process.argv[2];
const config = JSON.parse(fs.readFileSync(file, 'utf8'));
const added = [];
if (config.system?.systemd === undefined) { config.system = { ...config.system, systemd: true }; added.push('system.systemd'); }
if (config.upgrade?.installRoot === undefined) { config.upgrade = { ...config.upgrade, installRoot: process.env.VCBOX_PREFIX }; added.push('upgrade.installRoot'); }
if (added.length > 0) {
  fs.writeFileSync(`${file}.new`, `${JSON.stringify(config, null, 2)}\n`);
  fs.renameSync(`${file}.new`, file);
  console.log(`[install] added to ${file}: ${added.join(', ')}`);
}
NODE
fi
mkdir -p "$(dest /usr/lib/sysusers.d)" "$(dest /usr/lib/tmpfiles.d)"
echo 'u vcbox - "vcbox video-conferencing appliance" '"$data_dir" > "$(dest /usr/lib/sysusers.d)/vcbox.conf"
cat > "$(dest /usr/lib/tmpfiles.d)/vcbox.conf" <<TMP
d $data_dir 0750 vcbox vcbox -
d $log_dir 0750 vcbox vcbox -
d $data_dir/maintenance 0750 vcbox vcbox -
d $data_dir/run 0700 vcbox vcbox -
TMP
mkdir -p "$(dest "$data_dir")/maintenance" "$(dest "$log_dir")"
# The SIP port asks for a 384 KB UDP receive buffer (server/signaling/transports/udp-transport.ts):
# with Debian's cap, 208 KB, a burst of re-registrations is dropped and comes back as
# retransmissions. Applied at boot; an administrator overrides it with /etc/sysctl.d/60-vcbox.conf.
mkdir -p "$(dest /usr/lib/sysctl.d)"
echo 'net.core.rmem_max = 393216' > "$(dest /usr/lib/sysctl.d)/60-vcbox.conf"
# The control channels' sockets (the media process may write only there).
mkdir -p -m 0700 "$(dest "$data_dir")/run"

# 5. systemd units.
unit_dir="$(dest /etc/systemd/system)"
mkdir -p "$unit_dir"
for unit in "$src"/systemd/vcbox*.service "$src"/systemd/vcbox*.path "$src"/systemd/vcbox.target; do
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@CONFDIR@|$conf_dir|g" -e "s|@DATADIR@|$data_dir|g" -e "s|@LOGDIR@|$log_dir|g" \
    "$unit" > "$unit_dir/$(basename "$unit")"
done
say "units in $unit_dir: $(cd "$src/systemd" && echo vcbox*)"

if [ "$live" = 1 ]; then
  systemd-sysusers vcbox.conf
  systemd-tmpfiles --create vcbox.conf
  if [ "$(sysctl -n net.core.rmem_max 2>/dev/null || echo 0)" -lt 393216 ]; then
    sysctl -q -w net.core.rmem_max=393216 || say "could not raise net.core.rmem_max now (it is at boot)"
  fi
  chown -R vcbox:vcbox "$data_dir" "$log_dir"
  systemctl daemon-reload
  # The box runs its own TURN relay (vcbox-turn, configured from its settings): the coturn
  # package's own service would hold the TURN port.
  systemctl disable --now coturn.service 2>/dev/null || true
  systemctl enable vcbox.target vcbox-control.service vcbox-signaling.service vcbox-media.service vcbox-turn.service vcbox-stop-intent.service vcbox-maintenance.path
  if [ "$start" = 1 ]; then
    systemctl restart vcbox.target
    systemctl start vcbox-maintenance.path
    say "started: systemctl status vcbox.target"
  fi
else
  say "installed into $root (nothing on this machine was changed)"
fi
