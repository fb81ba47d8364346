#!/usr/bin/env bash
# Builds the browser pages' scripts with esbuild (from npm; no CDN, works offline on the LAN):
# web/src/join.ts (+ mediasoup-client) → web/join/join.js and the console, web/src/console/app.ts →
# web/console/app.js (+ web/console/app.css: the stylesheets the console's modules import, uPlot's
# for the dashboard charts; web/console/console.css is the console's own). Rebuilt only when a source, the
# lock file or this script changed (a stamp beside the output). Called by scripts/setup.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/web/join/join.js"
want="$( (cat "$0" "$root/package-lock.json"; find "$root/web/src" -type f -print0 | LC_ALL=C sort -z | xargs -0 cat) | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ -f "$root/web/console/app.css" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
echo "[setup] building the browser join page and the console…" >&2
"$root/node_modules/.bin/esbuild" "$root/web/src/join.ts" --bundle --format=esm --target=chrome100,firefox100,safari15 \
  --minify --sourcemap --log-level=warning --outfile="$out"
"$root/node_modules/.bin/esbuild" "$root/web/src/console/app.ts" --bundle --format=esm --target=chrome100,firefox100,safari15 \
  --minify --sourcemap --log-level=warning --outfile="$root/web/console/app.js"
echo "$want" > "$out.stamp"
