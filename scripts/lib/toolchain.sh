# Sourced by the project's scripts: puts Node >= 22.12 and pnpm first on PATH,
# installing them from the npm registry into a cache outside the repository when missing.
# Nothing here needs root. Override the cache with FLUX_CACHE.

FLUX_CACHE=${FLUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flux}
FLUX_NODE_VERSION=24.21.0
FLUX_PNPM_VERSION=10.34.9

flux_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)'
}

flux_toolchain() {
  local node_dir="$FLUX_CACHE/node-$FLUX_NODE_VERSION"
  local pnpm_dir="$FLUX_CACHE/pnpm-$FLUX_PNPM_VERSION"
  if [ -x "$node_dir/node_modules/.bin/node" ]; then
    export PATH="$node_dir/node_modules/.bin:$PATH"
  fi
  if ! flux_node_ok; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "setup: node >= 22.12 is needed and npm is missing to install it; install Node.js (any version with npm) first" >&2
      return 1
    fi
    echo "setup: system node is $(node --version 2>/dev/null || echo missing); installing node $FLUX_NODE_VERSION into $node_dir" >&2
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node@$FLUX_NODE_VERSION" >&2
    export PATH="$node_dir/node_modules/.bin:$PATH"
    flux_node_ok || { echo "setup: node $FLUX_NODE_VERSION did not install into $node_dir" >&2; return 1; }
  fi
  if [ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]; then
    echo "setup: installing pnpm $FLUX_PNPM_VERSION into $pnpm_dir" >&2
    mkdir -p "$pnpm_dir"
    npm install --prefix "$pnpm_dir" --no-save --no-audit --no-fund --loglevel=error "pnpm@$FLUX_PNPM_VERSION" >&2
  fi
  export PATH="$pnpm_dir/node_modules/.bin:$PATH"
}
