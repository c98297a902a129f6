#!/usr/bin/env bash
# Installs claude-code-router (npm `@musistudio/claude-code-router`, pinned) into DIR for the
# benchmark, offline apart from the npm registry, and prints the path of its `ccr` executable.
# Used by bench/run.sh and .ci/run; see bench/README.md ("claude-code-router").
#
# Two snags, handled here:
# - It declares `@the-next-ai/ai-gateway` and `@the-next-ai/bot-gateway-sdk`, which the registry
#   does not serve; the gateway it runs is bundled in its own dist/ (dist/main/next-ai-gateway.js),
#   so empty local stand-ins for those two (file: packages, forced with `overrides`) let it install.
# - `better-sqlite3` is built from source (no prebuilt download) against the headers of the Node
#   installation itself (`npm_config_nodedir`, e.g. /usr with /usr/include/node), so node-gyp
#   does not fetch headers from nodejs.org.
#
# Usage: bash bench/install-ccr.sh DIR   (does nothing when DIR/.ok names the same version)
set -euo pipefail

CCR_VERSION="${CCR_VERSION:-3.1.1}"
dir="${1:?usage: install-ccr.sh DIR}"
ccr="$dir/node_modules/.bin/ccr"
if [ "$(cat "$dir/.ok" 2>/dev/null)" = "$CCR_VERSION" ] && [ -x "$ccr" ]; then
  echo "$ccr"
  exit 0
fi

command -v node >/dev/null || { echo "install-ccr: node is not on PATH (claude-code-router needs Node.js and npm)" >&2; exit 1; }
# The Node headers node-gyp builds better-sqlite3 against: those of the running node.
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [ -f "$node_prefix/include/node/node_api.h" ]; then
  nodedir="$node_prefix"
elif [ -f /usr/include/node/node_api.h ]; then
  nodedir=/usr
else
  echo "install-ccr: no Node headers (include/node/node_api.h) under $node_prefix or /usr;" \
    "install them (Debian: apt-get install libnode-dev, or use a Node.js tarball) to build better-sqlite3" >&2
  exit 1
fi

echo "== installing @musistudio/claude-code-router@$CCR_VERSION into $dir (builds better-sqlite3: about 2 minutes)" >&2
rm -rf "$dir"
mkdir -p "$dir/stand-ins/ai-gateway" "$dir/stand-ins/bot-gateway-sdk"
for p in "ai-gateway 1.0.21" "bot-gateway-sdk 0.1.0"; do
  read -r name version <<<"$p"
  cat > "$dir/stand-ins/$name/package.json" <<EOF
{"name": "@the-next-ai/$name", "version": "$version", "main": "index.js",
 "description": "Empty stand-in: not on the npm registry; claude-code-router bundles what it runs."}
EOF
  echo 'module.exports = {};' > "$dir/stand-ins/$name/index.js"
done
cat > "$dir/package.json" <<EOF
{
  "private": true,
  "description": "claude-code-router for agent-shim's benchmark (bench/install-ccr.sh)",
  "dependencies": {
    "@musistudio/claude-code-router": "$CCR_VERSION",
    "@the-next-ai/ai-gateway": "file:./stand-ins/ai-gateway",
    "@the-next-ai/bot-gateway-sdk": "file:./stand-ins/bot-gateway-sdk"
  },
  "overrides": {
    "@the-next-ai/ai-gateway": "\$@the-next-ai/ai-gateway",
    "@the-next-ai/bot-gateway-sdk": "\$@the-next-ai/bot-gateway-sdk"
  }
}
EOF
(
  cd "$dir"
  npm_config_nodedir="$nodedir" npm_config_build_from_source=true \
    npm install --no-audit --no-fund --loglevel=error --engine-strict=false >&2
  # The native module loads in this node (a wrong ABI or missing build fails here, not mid-bench).
  node -e "new (require('better-sqlite3'))(':memory:').close()" >&2
)
[ -x "$ccr" ] || { echo "install-ccr: $ccr is missing after npm install" >&2; exit 1; }
echo "$CCR_VERSION" > "$dir/.ok"
echo "$ccr"
