# Builds the Go servers scripts/services needs (FerretDB, MinIO) from the Go module
# proxy into $FLUX_CACHE/bin, with the module and build caches in $FLUX_CACHE/go so a
# rebuild is fast. Sourced by scripts/services after services-common.sh.

# The oldest Go that builds the pinned FerretDB and MinIO (both say "go 1.24" in go.mod).
SVC_GO_MIN=1.24

# Sets GO to a go binary, or returns 1 when there is none.
svc_find_go() {
  GO=$(command -v go 2>/dev/null || true)
  if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
  [ -n "$GO" ]
}

# Fails with a clear message when GO is older than SVC_GO_MIN or cannot reach modules.
svc_check_go() {
  local version proxy
  version=$("$GO" version | awk '{print $3}' | sed 's/^go//')
  if ! svc_version_ge "$version" "$SVC_GO_MIN"; then
    svc_log "go $version at $GO is too old: FerretDB and MinIO need go >= $SVC_GO_MIN" \
      "(Debian 12's golang-go is 1.19; install a newer Go, e.g. into /usr/local/go)"
    return 1
  fi
  proxy=$("$GO" env GOPROXY)
  if [ -z "$proxy" ] || [ "$proxy" = off ]; then
    svc_log "go env GOPROXY is '${proxy:-empty}': Go modules cannot be downloaded"
    return 1
  fi
}

# The environment of every go command here. GOPROXY stays what `go env` says;
# GOTOOLCHAIN=local so go never tries to download another toolchain.
svc_go_env() {
  export GOPATH="$FLUX_CACHE/go"
  export GOMODCACHE="$FLUX_CACHE/go/mod"
  export GOCACHE="$FLUX_CACHE/go/cache"
  export GOTOOLCHAIN=local
  export GOFLAGS="-mod=mod -buildvcs=false"
  export CGO_ENABLED=0
}

# Builds package PKG of module MODULE@VERSION into OUT.
# It goes through a tiny wrapper module instead of `go install PKG@VERSION`: that form
# asks the proxy for the module's version list (to print deprecation notices), and
# the proxy here answers 403 for FerretDB's list although the pinned version is there.
# The wrapper resolves the same dependency versions (the pinned module's go.mod has
# no replace directives, which `go install pkg@version` would refuse anyway).
svc_go_build() { # module version pkg out
  local module=$1 version=$2 pkg=$3 out=$4
  local dir="$FLUX_CACHE/go/build/$(basename "$out")"
  svc_go_env
  mkdir -p "$dir" "$(dirname "$out")"
  cat >"$dir/go.mod" <<EOF
module flux.local/services/build

go $SVC_GO_MIN

require $module $version
EOF
  cat >"$dir/tools.go" <<EOF
//go:build tools

package tools

import _ "$pkg"
EOF
  (
    cd "$dir"
    "$GO" version
    "$GO" build -trimpath -ldflags='-s -w' -o "$out.tmp" "$pkg"
  )
  mv -f "$out.tmp" "$out"
}

# Starts the build of OUT in the background unless OUT exists; remembers its pid.
# The build's output goes to LOG; svc_wait_build waits for it and reports.
declare -A SVC_BUILD_PIDS=()
svc_start_build() { # name module version pkg out log
  local name=$1 module=$2 version=$3 pkg=$4 out=$5 log=$6
  [ -x "$out" ] && return 0
  svc_log "building $name $version (first time only; several minutes), log: $log"
  : >"$log"
  svc_go_build "$module" "$version" "$pkg" "$out" >>"$log" 2>&1 &
  SVC_BUILD_PIDS[$name]=$!
}

# Waits for the build started by svc_start_build; returns 1 (after reporting) on failure.
svc_wait_build() { # name out log
  local name=$1 out=$2 log=$3 pid=${SVC_BUILD_PIDS[$1]:-}
  if [ -n "$pid" ]; then
    if wait "$pid"; then
      svc_log "built $name into $out"
    else
      svc_report_failure "$name" "$log" "go build failed"
      return 1
    fi
  fi
  [ -x "$out" ]
}
