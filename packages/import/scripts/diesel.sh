#!/usr/bin/env bash
# Prints the path of diesel's CLI (diesel_cli, PostgreSQL only) from a cache outside the
# repository. Building it from crates.io takes minutes (it links libpq: Debian's libpq-dev), so it
# is built only when FLUX_IMPORT_BUILD_DIESEL=1 asks for it. The import tests run it to apply the
# first half of a history exactly as diesel does. Exit 3 (and a message on stderr) when it is not
# built and may not be, or cannot be: the tests then skip with that message.
set -euo pipefail

VERSION=2.3.14
FLUX_CACHE=${FLUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flux}
ROOT="$FLUX_CACHE/diesel_cli-$VERSION"
OUT="$ROOT/bin/diesel"

if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
if [ "${FLUX_IMPORT_BUILD_DIESEL:-}" != 1 ]; then
  echo "diesel: diesel_cli $VERSION is not built in $ROOT; building it takes minutes: run FLUX_IMPORT_BUILD_DIESEL=1 packages/import/scripts/diesel.sh once" >&2
  exit 3
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "diesel: no cargo on PATH (Rust's toolchain builds diesel_cli)" >&2
  exit 3
fi
if ! command -v pg_config >/dev/null 2>&1 && [ ! -f /usr/include/postgresql/libpq-fe.h ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! apt-cache show libpq-dev >/dev/null 2>&1; then apt-get update -qq >&2 || true; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpq-dev >&2 || true
  fi
  if [ ! -f /usr/include/postgresql/libpq-fe.h ]; then
    echo "diesel: libpq's headers are missing (install libpq-dev)" >&2
    exit 3
  fi
fi
mkdir -p "$ROOT"
export CARGO_TARGET_DIR="$FLUX_CACHE/cargo-target/diesel_cli-$VERSION"
if ! cargo install --locked --quiet "diesel_cli@$VERSION" --no-default-features --features postgres --root "$ROOT" >&2; then
  echo "diesel: cargo install diesel_cli@$VERSION failed (is crates.io reachable?)" >&2
  exit 3
fi
rm -rf "$CARGO_TARGET_DIR"
echo "$OUT"
