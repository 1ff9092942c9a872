#!/usr/bin/env bash
# Builds golang-migrate's `migrate` command (postgres driver, file source) from the Go module
# proxy into a cache outside the repository, and prints its path. The import tests run it to
# apply the first half of a history exactly as golang-migrate does. Exit 3 (and a message on
# stderr) when Go or the module proxy is not available: the tests then skip with that message.
set -euo pipefail

VERSION=v4.20.1
FLUX_CACHE=${FLUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flux}
OUT="$FLUX_CACHE/bin/golang-migrate-$VERSION"

if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi
# the project's own Go helpers: how scripts/services finds Go and sets its caches
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../../scripts/lib/services-common.sh
. "$root/scripts/lib/services-common.sh"
# shellcheck source=../../../scripts/lib/services-go.sh
. "$root/scripts/lib/services-go.sh"
if ! svc_find_go; then
  echo "golang-migrate: no go command on PATH or in /usr/local/go/bin" >&2
  exit 3
fi
svc_go_env
export GOBIN="$FLUX_CACHE/go/build/golang-migrate-$VERSION"
mkdir -p "$GOBIN" "$(dirname "$OUT")"
# the `postgres` tag links the PostgreSQL driver; the file source is always there
if ! (cd / && "$GO" install -tags postgres -ldflags='-s -w' \
  "github.com/golang-migrate/migrate/v4/cmd/migrate@$VERSION") >&2; then
  echo "golang-migrate: go install github.com/golang-migrate/migrate/v4/cmd/migrate@$VERSION failed (is the Go module proxy reachable?)" >&2
  exit 3
fi
mv -f "$GOBIN/migrate" "$OUT"
rm -rf "$GOBIN"
echo "$OUT"
