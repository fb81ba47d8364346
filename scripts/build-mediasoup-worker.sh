#!/usr/bin/env bash
# build-mediasoup-worker.sh — build mediasoup's C++ worker binary offline-ish.
#
# Usage: scripts/build-mediasoup-worker.sh <mediasoup-package-dir>
#        (e.g. node_modules/mediasoup; it holds worker/ sources + package.json)
#
# `npm install mediasoup` cannot build its worker here: the prebuilt download,
# pip (meson) and meson's wrapdb (subprojects) are all unreachable. This script
# builds the worker from the sources inside mediasoup's npm tarball using only
# Debian (12 / bookworm) packages, so it needs nothing but deb.debian.org:
#   - installs its build packages with apt-get (only those that are missing),
#     meson >= 1.1 from bookworm-backports;
#   - builds flatbuffers 23.5.26 (flatc + headers) from Debian trixie's source
#     package (bookworm's flatc is too old), cached under the cache dir;
#   - replaces every meson subproject wrap with a thin local project over the
#     system libraries (scripts/mediasoup-worker/subprojects/): libuv, OpenSSL,
#     abseil, libsrtp2 behind a libsrtp3 compatibility header, flatbuffers, and
#     ankerl::unordered_dense (header taken from a Debian package);
#   - applies scripts/mediasoup-worker/*.patch (DTLS BIO callback fix needed
#     with Debian's kTLS-enabled OpenSSL), then meson/ninja release build;
#   - installs the binary at <pkg>/worker/out/Release/mediasoup-worker, where
#     mediasoup finds it without MEDIASOUP_WORKER_BIN.
#
# Cache: ${VCBOX_CACHE_DIR:-$HOME/.cache/vcbox}/mediasoup-worker/<key>/ holds
# the binary and build.log; <key> = mediasoup version, Debian codename/arch and
# a hash of this script plus scripts/mediasoup-worker/* (except
# runtime-packages.txt), so a change to our
# patches forces a rebuild. A cache hit just copies the binary.
# Runtime Debian packages the binary needs: scripts/mediasoup-worker/runtime-packages.txt
#
# Environment: VCBOX_CACHE_DIR (cache root), VCBOX_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), VCBOX_MEDIASOUP_FORCE_REBUILD=1 (ignore the
# cached binary).
set -euo pipefail

readonly FLATBUFFERS_VERSION="23.5.26" # upstream version in Debian trixie
readonly FLATBUFFERS_SUITE="trixie"
readonly UNORDERED_DENSE_SUITE="sid"   # libtulip-dev ships ankerl/unordered_dense.h
readonly UNORDERED_DENSE_PACKAGE="libtulip-dev"
readonly UNORDERED_DENSE_PATH="usr/include/tulip/unordered_dense.h"
readonly MESON_MIN_VERSION="1.1.0"
readonly BUILD_PACKAGES=(
	build-essential python3 pkg-config cmake ninja-build patch xz-utils
	libuv1-dev libssl-dev libsrtp2-dev libabsl-dev
)
readonly DEBIAN_MIRROR="${VCBOX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

SCRIPT_START=$SECONDS
TAG="[mediasoup-worker]"
LOG=""
CURRENT_STEP="startup"

log_line() { [[ -n "$LOG" ]] && printf '%s %s\n' "$(date '+%F %T')" "$*" >>"$LOG"; return 0; }
progress() { printf '%s %s\n' "$TAG" "$*"; log_line "== $*"; }
warn() { printf '%s WARNING: %s\n' "$TAG" "$*" >&2; log_line "WARNING: $*"; }
die() {
	printf '%s ERROR: %s\n' "$TAG" "$*" >&2
	log_line "ERROR: $*"
	if [[ -n "$LOG" && -s "$LOG" ]]; then
		printf '%s --- last lines of %s ---\n' "$TAG" "$LOG" >&2
		tail -n 40 "$LOG" >&2 || true
		printf '%s --- full build log: %s\n' "$TAG" "$LOG" >&2
	fi
	exit 1
}
on_err() { die "unexpected failure (exit $1) at line $2 during: $CURRENT_STEP"; }
trap 'on_err $? $LINENO' ERR

# run_step "description" cmd args... — output goes to the log; exits on failure.
# The command runs as a background job so that `set -e` stays in force inside
# shell functions passed as cmd.
run_step() {
	local desc=$1 rc=0 t0=$SECONDS
	shift
	CURRENT_STEP=$desc
	progress "$desc ..."
	"$@" </dev/null >>"$LOG" 2>&1 &
	wait $! || rc=$?
	if ((rc != 0)); then
		die "step failed (exit $rc): $desc"
	fi
	progress "$desc: done ($((SECONDS - t0))s)"
}

as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "need root for: $*" >&2
		return 1
	fi
}

# --- arguments ---------------------------------------------------------------

[[ $# -eq 1 ]] || { echo "usage: $0 <mediasoup-package-dir>" >&2; exit 2; }
PKG_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "$TAG ERROR: no such directory: $1" >&2; exit 2; }
[[ -f "$PKG_DIR/package.json" && -f "$PKG_DIR/worker/meson.build" ]] ||
	die "$PKG_DIR does not look like the mediasoup package (need package.json and worker/meson.build)"
MEDIASOUP_VERSION=$(sed -n 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$PKG_DIR/package.json" | sed -n 1p)
[[ -n "$MEDIASOUP_VERSION" ]] || die "cannot read the version from $PKG_DIR/package.json"

SCRIPT_PATH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
HELPER_DIR=$(dirname "$SCRIPT_PATH")/mediasoup-worker
[[ -d "$HELPER_DIR/subprojects" ]] || die "helper files missing: $HELPER_DIR/subprojects"

# shellcheck disable=SC1091
DEBIAN_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
DEB_ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
JOBS=$(nproc 2>/dev/null || echo 2)

# Key: version + platform + hash of this script and its helper files.
RECIPE_HASH=$(
	cd "$(dirname "$SCRIPT_PATH")/.."
	{
		printf '%s\n' "scripts/$(basename "$SCRIPT_PATH")"
		cat "$SCRIPT_PATH"
		# runtime-packages.txt only documents the result; editing it needs no rebuild.
		find scripts/mediasoup-worker -type f ! -name runtime-packages.txt -print | LC_ALL=C sort | while IFS= read -r f; do
			printf '%s\n' "$f"
			cat "$f"
		done
	} | sha256sum | cut -c1-12
)
KEY="${MEDIASOUP_VERSION}-${DEBIAN_CODENAME}-${DEB_ARCH}-${RECIPE_HASH}"

CACHE_ROOT="${VCBOX_CACHE_DIR:-${HOME:-/root}/.cache/vcbox}"
WORKER_CACHE="$CACHE_ROOT/mediasoup-worker"
KEY_DIR="$WORKER_CACHE/$KEY"
CACHED_BIN="$KEY_DIR/mediasoup-worker"
DEST_DIR="$PKG_DIR/worker/out/Release"
DEST_BIN="$DEST_DIR/mediasoup-worker"

mkdir -p "$KEY_DIR"
LOG="$KEY_DIR/build.log"

progress "mediasoup $MEDIASOUP_VERSION worker for $DEBIAN_CODENAME/$DEB_ARCH (cache key $KEY)"

# One build at a time per cache root.
exec 9>"$WORKER_CACHE/.lock"
if ! flock -n 9; then
	progress "another build holds $WORKER_CACHE/.lock; waiting for it ..."
	flock 9
fi

# The worker exits with 41 when MEDIASOUP_VERSION is missing (see its main.cpp):
# a cheap check that the binary loads and runs on this host.
check_binary() {
	local bin=$1 rc=0
	[[ -x "$bin" ]] || return 1
	env -i "$bin" </dev/null >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 41 ]]
}

install_binary() {
	mkdir -p "$DEST_DIR"
	cp -f "$CACHED_BIN" "$DEST_BIN.tmp.$$"
	chmod 0755 "$DEST_BIN.tmp.$$"
	mv -f "$DEST_BIN.tmp.$$" "$DEST_BIN"
}

# --- cache hit -----------------------------------------------------------------

if [[ -f "$CACHED_BIN" && "${VCBOX_MEDIASOUP_FORCE_REBUILD:-0}" != 1 ]]; then
	if check_binary "$CACHED_BIN"; then
		install_binary
		progress "cache hit: $CACHED_BIN"
		progress "installed $DEST_BIN ($((SECONDS - SCRIPT_START))s)"
		exit 0
	fi
	warn "cached binary $CACHED_BIN does not run on this host (missing runtime libraries?); rebuilding"
	rm -f "$CACHED_BIN"
fi

# --- cache miss: full build -------------------------------------------------------

: >"$LOG"
progress "cache miss: building from source (log: $LOG)"
log_line "mediasoup $MEDIASOUP_VERSION key=$KEY pkg=$PKG_DIR jobs=$JOBS"

export DEBIAN_FRONTEND=noninteractive
APT_GET=(apt-get -y -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
APT_UPDATED=0

apt_update_once() {
	if ((APT_UPDATED == 0)); then
		as_root "${APT_GET[@]}" update
		APT_UPDATED=1
	fi
}

pkg_installed() {
	[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == "ii " ]]
}

install_build_packages() {
	local missing=() p
	for p in "${BUILD_PACKAGES[@]}"; do
		pkg_installed "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		echo "all build packages already installed: ${BUILD_PACKAGES[*]}"
		return 0
	fi
	echo "installing: ${missing[*]}"
	apt_update_once
	as_root "${APT_GET[@]}" install --no-install-recommends "${missing[@]}"
}

meson_ok() {
	local v
	v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || return 1
	pkg_installed meson && dpkg --compare-versions "$v" ge "$MESON_MIN_VERSION"
}

has_backports_source() {
	grep -rqsE "^[^#]*${DEBIAN_CODENAME}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/
}

install_meson() {
	local candidate
	if meson_ok; then
		echo "meson $(dpkg-query -W -f='${Version}' meson) already installed"
		return 0
	fi
	apt_update_once
	candidate=$(apt-cache policy meson | sed -n 's/^[[:space:]]*Candidate:[[:space:]]*//p')
	if [[ -n "$candidate" && "$candidate" != "(none)" ]] &&
		dpkg --compare-versions "$candidate" ge "$MESON_MIN_VERSION"; then
		as_root "${APT_GET[@]}" install --no-install-recommends meson
		return 0
	fi
	echo "meson candidate '$candidate' is older than $MESON_MIN_VERSION; using ${DEBIAN_CODENAME}-backports"
	if ! has_backports_source; then
		local f="/etc/apt/sources.list.d/vcbox-${DEBIAN_CODENAME}-backports.sources"
		echo "adding $f"
		printf '%s\n' \
			"# Added by vcbox scripts/build-mediasoup-worker.sh (meson >= $MESON_MIN_VERSION)." \
			"Types: deb" \
			"URIs: $DEBIAN_MIRROR" \
			"Suites: ${DEBIAN_CODENAME}-backports" \
			"Components: main" \
			"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
			as_root tee "$f" >/dev/null
	fi
	as_root "${APT_GET[@]}" update
	as_root "${APT_GET[@]}" install --no-install-recommends -t "${DEBIAN_CODENAME}-backports" meson
	meson_ok
}

# Private apt configuration (own sources list and lists dir under the cache) to
# fetch a *source* package or a single .deb from another suite without touching
# the system's apt sources. private_apt <dir> <apt-get args...>
private_apt() {
	local dir=$1
	shift
	# Check-Valid-Until=false: an expired Release date (sid, when the snapshot is old) is not a
	# reason to fail; signatures are still checked.
	apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Check-Valid-Until=false \
		-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
		-o APT::Sandbox::User=root "$@"
}

# private_apt_setup <dir> <sources.list line>
private_apt_setup() {
	local dir=$1 line=$2
	rm -rf "$dir"
	mkdir -p "$dir/lists/partial"
	printf '%s\n' "$line" >"$dir/sources.list"
	private_apt "$dir" update
}

FB_PREFIX="$CACHE_ROOT/flatbuffers/$FLATBUFFERS_VERSION"

flatbuffers_ok() {
	[[ -x "$FB_PREFIX/bin/flatc" && -f "$FB_PREFIX/include/flatbuffers/flatbuffers.h" ]] &&
		[[ -f "$FB_PREFIX/lib/libflatbuffers.a" ]] &&
		"$FB_PREFIX/bin/flatc" --version | grep -F "$FLATBUFFERS_VERSION" >/dev/null
}

build_flatbuffers() {
	local work="$CACHE_ROOT/flatbuffers/build-$FLATBUFFERS_VERSION" apt_dir dsc src
	apt_dir="$work/apt"
	rm -rf "$work" "$FB_PREFIX.tmp"
	mkdir -p "$work/fetch"
	private_apt_setup "$apt_dir" "deb-src $DEBIAN_MIRROR $FLATBUFFERS_SUITE main"
	(
		cd "$work/fetch"
		private_apt "$apt_dir" source --download-only "flatbuffers/$FLATBUFFERS_SUITE"
	)
	dsc=$(ls "$work"/fetch/flatbuffers_*.dsc)
	case "$(basename "$dsc")" in
	flatbuffers_"$FLATBUFFERS_VERSION"[+-]*) ;;
	*) echo "expected flatbuffers $FLATBUFFERS_VERSION in $FLATBUFFERS_SUITE, got $(basename "$dsc")"; return 1 ;;
	esac
	src="$work/src"
	dpkg-source -x "$dsc" "$src"
	cmake -S "$src" -B "$work/build" -G Ninja \
		-DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX="$FB_PREFIX.tmp" \
		-DCMAKE_INSTALL_LIBDIR=lib \
		-DFLATBUFFERS_BUILD_TESTS=OFF \
		-DFLATBUFFERS_BUILD_FLATC=ON \
		-DFLATBUFFERS_BUILD_FLATLIB=ON \
		-DFLATBUFFERS_BUILD_FLATHASH=OFF \
		-DFLATBUFFERS_BUILD_SHAREDLIB=OFF \
		-DCMAKE_POSITION_INDEPENDENT_CODE=ON
	cmake --build "$work/build" -j "$JOBS"
	cmake --install "$work/build"
	"$FB_PREFIX.tmp/bin/flatc" --version
	# grep without -q reads the whole help: with -q it stops at the match and flatc, still
	# writing, dies of SIGPIPE (exit 141 under pipefail) — a race that failed a fresh set-up.
	"$FB_PREFIX.tmp/bin/flatc" --help | grep -- '--cpp-field-case-style' >/dev/null
	rm -rf "$FB_PREFIX"
	mv "$FB_PREFIX.tmp" "$FB_PREFIX"
	rm -rf "$work"
}

UD_CACHE="$CACHE_ROOT/unordered_dense"
UD_HEADER="$UD_CACHE/ankerl/unordered_dense.h"

fetch_unordered_dense() {
	local work="$UD_CACHE/fetch" deb
	rm -rf "$work"
	mkdir -p "$work/dl" "$work/x"
	private_apt_setup "$work/apt" "deb [arch=$DEB_ARCH] $DEBIAN_MIRROR $UNORDERED_DENSE_SUITE main"
	(
		cd "$work/dl"
		private_apt "$work/apt" download "$UNORDERED_DENSE_PACKAGE"
	)
	deb=$(ls "$work"/dl/*.deb)
	dpkg-deb -x "$deb" "$work/x"
	grep -q 'ANKERL_UNORDERED_DENSE_VERSION_MAJOR 4' "$work/x/$UNORDERED_DENSE_PATH"
	mkdir -p "$UD_CACHE/ankerl"
	cp "$work/x/$UNORDERED_DENSE_PATH" "$UD_HEADER.tmp"
	mv "$UD_HEADER.tmp" "$UD_HEADER"
	echo "from $(basename "$deb") ($DEBIAN_MIRROR $UNORDERED_DENSE_SUITE)" >"$UD_CACHE/SOURCE"
	rm -rf "$work"
}

BUILD_ROOT="$WORKER_CACHE/build"
SRC="$BUILD_ROOT/worker"

stage_sources() {
	local wrap name dir thin
	rm -rf "$BUILD_ROOT"
	mkdir -p "$BUILD_ROOT"
	# A private copy of the worker sources: the package dir stays pristine.
	cp -a "$PKG_DIR/worker" "$SRC"
	rm -rf "$SRC/out"
	for wrap in "$SRC"/subprojects/*.wrap; do
		name=$(basename "$wrap" .wrap)
		dir=$(sed -n 's/^[[:space:]]*directory[[:space:]]*=[[:space:]]*//p' "$wrap" | sed -n 1p | tr -d '[:space:]')
		[[ -n "$dir" ]] || { echo "no directory= in $wrap"; return 1; }
		case "$name" in
		libuv | openssl | libsrtp3 | abseil-cpp | flatbuffers) thin="$HELPER_DIR/subprojects/$name" ;;
		unordered-dense) thin="$HELPER_DIR/subprojects/unordered_dense" ;;
		catch2 | wingetopt)
			echo "skipping $name.wrap (tests / Windows only)"
			continue
			;;
		*)
			echo "unknown subproject wrap $name.wrap (directory $dir): teach scripts/build-mediasoup-worker.sh about it"
			return 1
			;;
		esac
		rm -rf "$SRC/subprojects/$dir"
		cp -a "$thin" "$SRC/subprojects/$dir"
		cp "$HELPER_DIR/subprojects/stub.c" "$SRC/subprojects/$dir/stub.c"
		echo "subproject $name -> local $dir (from $thin)"
	done
	dir=$(sed -n 's/^[[:space:]]*directory[[:space:]]*=[[:space:]]*//p' "$SRC/subprojects/unordered-dense.wrap" | sed -n 1p | tr -d '[:space:]')
	mkdir -p "$SRC/subprojects/$dir/include/ankerl"
	if [[ -f "$UD_HEADER" ]]; then
		cp "$UD_HEADER" "$SRC/subprojects/$dir/include/ankerl/unordered_dense.h"
	else
		cp "$HELPER_DIR/unordered_dense-std-fallback.h" "$SRC/subprojects/$dir/include/ankerl/unordered_dense.h"
	fi
	local p
	for p in "$HELPER_DIR"/*.patch; do
		[[ -e "$p" ]] || continue
		echo "applying $(basename "$p")"
		patch -d "$SRC" -p1 --forward --batch <"$p"
	done
	# Guard: the DTLS fix must be in place.
	grep -q 'operationType & BIO_CB_RETURN' "$SRC/src/RTC/DtlsTransport.cpp"
}

meson_setup() {
	PATH="$FB_PREFIX/bin:$PATH" /usr/bin/meson setup "$BUILD_ROOT/build" "$SRC" \
		--buildtype release -Db_ndebug=true \
		--wrap-mode=nodownload \
		-Dms_build_tests=false -Dms_build_fuzzer=false \
		-Dflatbuffers:prefix_dir="$FB_PREFIX"
}

meson_compile() {
	PATH="$FB_PREFIX/bin:$PATH" /usr/bin/meson compile -C "$BUILD_ROOT/build" -j "$JOBS" mediasoup-worker
}

# Debian package owning a library path (tries the /lib <-> /usr/lib aliases of
# merged-/usr systems and the resolved symlink).
package_of() {
	local path candidates=() c
	path=$1
	candidates=("$path" "$(readlink -f "$path")")
	case "$path" in
	/usr/lib/*) candidates+=("${path#/usr}") ;;
	/lib/*) candidates+=("/usr$path") ;;
	esac
	for c in "${candidates[@]}"; do
		dpkg -S "$c" 2>/dev/null | sed -n 1p | cut -d: -f1 | grep . && return 0
	done
	return 0
}

verify_and_store() {
	local bin="$BUILD_ROOT/build/mediasoup-worker"
	[[ -x "$bin" ]] || { echo "no binary at $bin"; return 1; }
	echo "ldd $bin:"
	ldd "$bin"
	if ldd "$bin" | grep 'not found' >/dev/null; then
		echo "missing shared libraries"
		return 1
	fi
	check_binary "$bin" || { echo "binary does not start (expected exit 41 without MEDIASOUP_VERSION)"; return 1; }
	# Every linked library must come from a package in runtime-packages.txt
	# (only reported; the build still succeeds).
	local lib pkg
	for lib in $(ldd "$bin" | awk '$3 ~ /^\// {print $3}'); do
		pkg=$(package_of "$lib")
		echo "  $lib <- ${pkg:-?}"
		if [[ -z "$pkg" ]] || ! grep -qxF "$pkg" "$HELPER_DIR/runtime-packages.txt"; then
			echo "WARNING: $lib (package ${pkg:-unknown}) is not listed in runtime-packages.txt"
		fi
	done
	cp "$bin" "$CACHED_BIN.tmp"
	mv "$CACHED_BIN.tmp" "$CACHED_BIN"
	{
		echo "mediasoup $MEDIASOUP_VERSION"
		echo "key $KEY"
		echo "built $(date -u '+%FT%TZ') on $(uname -srm)"
		echo "flatbuffers $FLATBUFFERS_VERSION ($FB_PREFIX)"
		if [[ -f "$UD_HEADER" ]]; then echo "unordered_dense $(cat "$UD_CACHE/SOURCE" 2>/dev/null)"; else echo "unordered_dense std fallback"; fi
		echo "meson $(/usr/bin/meson --version)"
	} >"$KEY_DIR/info.txt"
	return 0
}

run_step "installing Debian build packages (if missing)" install_build_packages
run_step "ensuring meson >= $MESON_MIN_VERSION" install_meson

if flatbuffers_ok; then
	progress "flatbuffers $FLATBUFFERS_VERSION: cached at $FB_PREFIX"
else
	run_step "building flatbuffers $FLATBUFFERS_VERSION from Debian $FLATBUFFERS_SUITE source (~3 min on 2 cores)" build_flatbuffers
fi

if [[ -f "$UD_HEADER" ]]; then
	progress "unordered_dense header: cached at $UD_HEADER"
else
	CURRENT_STEP="fetching unordered_dense header"
	progress "fetching ankerl/unordered_dense.h from Debian $UNORDERED_DENSE_SUITE ($UNORDERED_DENSE_PACKAGE) ..."
	fetch_unordered_dense </dev/null >>"$LOG" 2>&1 &
	if wait $!; then
		progress "fetching unordered_dense header: done"
	else
		warn "could not fetch $UNORDERED_DENSE_PACKAGE from Debian $UNORDERED_DENSE_SUITE (see $LOG);" \
			"using the std::unordered_map fallback header (scripts/mediasoup-worker/unordered_dense-std-fallback.h)"
	fi
fi

run_step "staging worker sources + local subprojects + patches" stage_sources
run_step "meson setup" meson_setup
run_step "compiling mediasoup-worker with $JOBS jobs (~6 min on 2 cores)" meson_compile
run_step "checking the binary and storing it in the cache" verify_and_store
if grep -q '^WARNING: .* not listed in runtime-packages.txt' "$LOG"; then
	warn "the binary links a library whose package is not in scripts/mediasoup-worker/runtime-packages.txt (see $LOG)"
fi

CURRENT_STEP="installing the binary"
install_binary
rm -rf "$BUILD_ROOT"
progress "built and cached $CACHED_BIN"
progress "installed $DEST_BIN ($((SECONDS - SCRIPT_START))s)"
