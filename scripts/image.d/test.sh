#!/usr/bin/env bash
# `scripts/image test`: runs the built image as a pipeline does, against the test servers on
# 127.0.0.1 (--network=host), and prints PASS/FAIL per check; exits 1 when any check failed.
# Run by scripts/image (which sets IMAGE, CLI_VERSION, PACKS, ROOT and podman's configuration),
# not by hand. Every container it starts has --rm and a name of this run's, removed at the end
# if still there; the pg schema and database, redis keys, mongo database and s3 objects of this run are
# deleted at the end (stores.mjs cleanup).
set -uo pipefail

: "${IMAGE:?} ${CLI_VERSION:?} ${PACKS:?} ${ROOT:?} ${CONTAINERS_CONF:?}"
HERE=$ROOT/scripts/image.d
FLUX_UID=${FLUX_IMAGE_UID:-10001}
HOST_FLUX=$ROOT/apps/cli/bin/flux.js
README=${FLUX_IMAGE_README:-$ROOT/README.md} # another file: to try a README section before it is in

passed=0
failed=0
pass() { echo "PASS  $*"; passed=$((passed + 1)); }
fail() { echo "FAIL  $*"; failed=$((failed + 1)); }
check() { # description command...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

for var in FLUX_TEST_PG_URL FLUX_TEST_REDIS_URL FLUX_TEST_MONGO_URL FLUX_TEST_S3_ENDPOINT FLUX_TEST_S3_BUCKET \
  FLUX_TEST_S3_ACCESS_KEY_ID FLUX_TEST_S3_SECRET_ACCESS_KEY; do
  if [ -z "${!var:-}" ]; then
    echo "FAIL  $var is not set: start the servers (scripts/services start) and eval \"\$(scripts/services env)\"" >&2
    exit 1
  fi
done

RUN=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flux-image-test.XXXXXX")
chmod 755 "$WORK"
OUT=$WORK/outputs.log # everything every run printed, searched for secrets at the end
: >"$OUT"
containers=()

# the run's places on the test servers, and the environment a pipeline would give the image
export PG_SCHEMA=flux_image_$RUN
export PG_DATABASE=flux_image_$RUN # the README example's database
export REDIS_PREFIX=flux_image_$RUN
export MONGO_DATABASE=flux_image_$RUN
export S3_PREFIX=flux_image_$RUN/
export S3_BUCKET=$FLUX_TEST_S3_BUCKET
export DATABASE_URL=$FLUX_TEST_PG_URL
export REDIS_URL=$FLUX_TEST_REDIS_URL
export MONGO_URL=$FLUX_TEST_MONGO_URL
export S3_ENDPOINT=$FLUX_TEST_S3_ENDPOINT
export AWS_REGION=${FLUX_TEST_S3_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=$FLUX_TEST_S3_ACCESS_KEY_ID
export AWS_SECRET_ACCESS_KEY=$FLUX_TEST_S3_SECRET_ACCESS_KEY
PASSED_ENV=(DATABASE_URL PG_SCHEMA REDIS_URL REDIS_PREFIX MONGO_URL MONGO_DATABASE S3_BUCKET S3_PREFIX S3_ENDPOINT
  AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)
PG_PASSWORD=$(node -e 'process.stdout.write(decodeURIComponent(new URL(process.argv[1]).password))' "$FLUX_TEST_PG_URL")

cleanup() {
  local name
  for name in "${containers[@]}"; do
    if podman container exists "$name" 2>/dev/null; then podman rm -f "$name" >/dev/null 2>&1 || true; fi
  done
  node "$HERE/stores.mjs" cleanup || echo "image test: cleanup of the test servers failed (schema/keys/database/objects $PG_SCHEMA)" >&2
  rm -rf "$WORK"
}
trap cleanup EXIT

# Runs the image with PROJECT mounted at /workspace and the environment above (values passed by
# name, so they are not on podman's command line). Sets code, out (stdout) and err (stderr).
n=0
run_image() { # project args...
  local project=$1
  shift
  n=$((n + 1))
  local name=flux-image-test-$RUN-$n
  containers+=("$name")
  local envs=() var
  for var in "${PASSED_ENV[@]}"; do envs+=(-e "$var"); done
  podman run --rm --name "$name" --network=host -v "$project:/workspace" "${envs[@]}" "$IMAGE" "$@" \
    >"$WORK/stdout" 2>"$WORK/stderr"
  code=$?
  out=$(cat "$WORK/stdout")
  err=$(cat "$WORK/stderr")
  printf '$ podman run ... %s %s\n%s\n%s\n' "$IMAGE" "$*" "$out" "$err" >>"$OUT"
}

# The host's CLI, built from the same workspace, in the same project and environment.
run_host() { # project args...
  local project=$1
  shift
  (cd "$project" && node "$HOST_FLUX" "$@") >"$WORK/stdout" 2>"$WORK/stderr"
  host_code=$?
  chown -R "$FLUX_UID:$FLUX_UID" "$project" # what the host (root) wrote stays the image user's
  printf '$ flux %s (host)\n%s\n' "$*" "$(cat "$WORK/stdout" "$WORK/stderr")" >>"$OUT"
}

# Runs ARGS in the image and on the host and expects both to exit with EXPECTED.
same_exit() { # expected project what args...
  local expected=$1 project=$2 what=$3
  shift 3
  run_image "$project" "$@"
  local image_code=$code
  run_host "$project" "$@"
  if [ "$image_code" = "$expected" ] && [ "$host_code" = "$expected" ]; then
    pass "$what: exit $expected in the image and on the host"
  else
    fail "$what: exit $image_code in the image, $host_code on the host, expected $expected"
    echo "      image stderr: ${err:0:400}"
  fi
}

owner_of() { stat -c %u "$1" 2>/dev/null; }
json_field() { node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; process.stdout.write(String(v))' "$1" "$2"; }

echo "image test: $IMAGE, run $RUN, projects in $WORK"

# ---------------------------------------------------------------- the image itself

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
check "runs as a non-root user (User $user)" test "${user%%:*}" = "$FLUX_UID"
check "working directory /workspace" test "$(podman image inspect --format '{{.Config.WorkingDir}}' "$IMAGE")" = /workspace
check "entrypoint is node and the flux command" \
  test "$(podman image inspect --format '{{join .Config.Entrypoint " "}}' "$IMAGE")" = \
  "/usr/local/bin/node /opt/flux/node_modules/@flux/cli/bin/flux.js"
for key in version source revision created title; do
  label=$(podman image inspect --format "{{index .Labels \"org.opencontainers.image.$key\"}}" "$IMAGE")
  annotation=$(podman image inspect --format "{{index .Annotations \"org.opencontainers.image.$key\"}}" "$IMAGE")
  check "label and annotation org.opencontainers.image.$key ($label)" test -n "$label" -a "$label" = "$annotation"
done
check "label org.opencontainers.image.version is the CLI's version ($CLI_VERSION)" \
  test "$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$IMAGE")" = "$CLI_VERSION"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "      image size: $(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1000000 }') MB"
check "image size under 200 MB" test "$size" -lt 200000000

run_image "$WORK" --version
check "--version exits 0 and prints $CLI_VERSION (got $code: ${out:0:40})" test "$code" = 0 -a "$out" = "$CLI_VERSION"
run_image "$WORK" --help
check "--help exits 0 and lists the commands and exit codes" \
  test "$code" = 0 -a -n "$(grep -F 'Exit codes:' <<<"$out")" -a -n "$(grep -E '^  up ' <<<"$out")"
n=$((n + 1))
containers+=("flux-image-test-$RUN-$n")
podman run --rm --name "flux-image-test-$RUN-$n" --entrypoint /bin/sh "$IMAGE" -c true >"$WORK/stdout" 2>&1
shell_code=$?
check "has no shell (/bin/sh does not start: exit $shell_code)" test "$shell_code" -ne 0 -a -n "$(grep -iE 'no such file|not found' "$WORK/stdout")"

# ---------------------------------------------------------------- a bare project, five stores

bare=$WORK/bare
cp -r "$HERE/bare" "$bare"
chown -R "$FLUX_UID:$FLUX_UID" "$bare"

run_image "$bare" sum
check "sum exits 0 (got $code)" test "$code" = 0
check "flux.sum written into the mounted project by uid $FLUX_UID, not root" \
  test "$(owner_of "$bare/migrations/flux.sum")" = "$FLUX_UID"

run_image "$bare" up
check "up exits 0 (got $code)" test "$code" = 0
[ "$code" = 0 ] || echo "      stderr: ${err:0:800}"
check "up names the five migrations" \
  test "$(grep -cE 'app/00[1-5]_(files|catalog|cache|docs|blobs)' <<<"$out$err")" -ge 5
check "the fs store's file belongs to uid $FLUX_UID" test "$(owner_of "$bare/var/files/resolved.json")" = "$FLUX_UID"
resolved=$(cat "$bare/var/files/resolved.json" 2>/dev/null || echo '{}')
check "the bare project's @flux/pg is the image's ($(json_field "$resolved" adapter))" \
  test "$(json_field "$resolved" adapter)" = file:///opt/flux/node_modules/@flux/pg/dist/index.js
check "a driver (ioredis) resolves through /node_modules to the image's ($(json_field "$resolved" driver))" \
  grep -q '^file:///opt/flux/node_modules/ioredis/' <<<"$(json_field "$resolved" driver)"
effects=$(node "$HERE/stores.mjs" effects)
for store in pg redis mongo s3; do
  check "up wrote into $store ($(json_field "$effects" $store))" test "$(json_field "$effects" $store)" = 'written by the image'
done

run_image "$bare" status --json
check "status --json exits 0 (got $code)" test "$code" = 0
statuses=$(node -e '
  const { migrations } = JSON.parse(process.argv[1])
  process.stdout.write(migrations.map((m) => `${m.id}=${m.status}`).join(" "))' "$out" 2>/dev/null)
check "status --json: the five migrations applied ($statuses)" test "$statuses" = \
  "app/001_files=applied app/002_catalog=applied app/003_cache=applied app/004_docs=applied app/005_blobs=applied"

same_exit 0 "$bare" "status" status
same_exit 2 "$bare" "an unknown command" frobnicate
same_exit 2 "$bare" "an unknown option" up --no-such-option
echo "// edited after it was applied" >>"$bare/migrations/002_catalog.ts"
same_exit 3 "$bare" "verify after an applied migration was edited" verify
run_image "$bare" up
check "up refuses the drift: exit 3 (got $code), naming 002_catalog" \
  test "$code" = 3 -a -n "$(grep -F '002_catalog' <<<"$out$err")"
[ -n "$(grep -F '002_catalog' <<<"$out$err")" ] || echo "      output: ${out:0:400} ${err:0:400}"
cp "$HERE/bare/migrations/002_catalog.ts" "$bare/migrations/002_catalog.ts"

# a store that cannot be reached: the pg URL with a port nothing listens on
saved_url=$DATABASE_URL
DATABASE_URL=$(node -e 'const u = new URL(process.argv[1]); u.port = "9"; process.stdout.write(u.href)' "$saved_url")
same_exit 1 "$bare" "status with the pg store unreachable" status
check "the unreachable store is named (catalog): $(head -n 1 <<<"$err")" grep -q 'store "catalog"' <<<"$out$err"
DATABASE_URL=$saved_url
saved_endpoint=$S3_ENDPOINT
S3_ENDPOINT=$(node -e 'const u = new URL(process.argv[1]); u.port = "9"; process.stdout.write(u.href)' "$saved_endpoint")
same_exit 1 "$bare" "status with the s3 store unreachable" status
check "the unreachable store is named (blobs): $(head -n 1 <<<"$err")" grep -q 'store "blobs"' <<<"$out$err"
S3_ENDPOINT=$saved_endpoint

run_image "$bare" down base --yes
check "down base --yes exits 0 (got $code)" test "$code" = 0
[ "$code" = 0 ] || echo "      stderr: ${err:0:800}"
effects=$(node "$HERE/stores.mjs" effects)
check "down undid the five migrations ($effects)" test "$effects" = '{"pg":null,"redis":null,"mongo":null,"s3":null}'
check "down removed the fs store's file" test ! -e "$bare/var/files/resolved.json"
run_image "$bare" status --json
statuses=$(node -e '
  const { migrations } = JSON.parse(process.argv[1])
  process.stdout.write(migrations.map((m) => m.status).join(" "))' "$out" 2>/dev/null)
check "status --json after down: all five pending ($statuses)" test "$statuses" = "pending pending pending pending pending"

# ---------------------------------------------------------------- a project with its own node_modules

own=$WORK/own
mkdir -p "$own/node_modules/@flux" "$own/node_modules/@image-test"
cp -r "$HERE/own/flux.config.ts" "$HERE/own/package.json" "$HERE/own/migrations" "$own/"
cp -r "$HERE/own/component" "$own/node_modules/@image-test/notes"
# as `npm install @flux/fs` lays it out: the packed packages, and core's dependency jiti
for pkg in core fs; do
  mkdir -p "$own/node_modules/@flux/$pkg"
  tar -xzf "$PACKS"/flux-"$pkg"-*.tgz -C "$own/node_modules/@flux/$pkg" --strip-components=1
done
cp -rL "$(dirname "$(cd "$ROOT/packages/core" && node -p 'require.resolve("jiti/package.json")')")" "$own/node_modules/jiti"
chown -R "$FLUX_UID:$FLUX_UID" "$own"
run_image "$own" sum
check "own node_modules: sum exits 0 (got $code)" test "$code" = 0
run_image "$own" up
check "own node_modules: up exits 0 (got $code)" test "$code" = 0
[ "$code" = 0 ] || echo "      stderr: ${err:0:800}"
app=$(cat "$own/var/files/app.json" 2>/dev/null || echo '{}')
notes=$(cat "$own/var/files/notes.json" 2>/dev/null || echo '{}')
check "own node_modules: the project's @flux/fs wins over the image's ($(json_field "$app" adapter))" \
  test "$(json_field "$app" adapter)" = file:///workspace/node_modules/@flux/fs/dist/index.js
check "own node_modules: the component's migration ran, with the project's @flux/core ($(json_field "$notes" core))" \
  test "$(json_field "$notes" core)" = file:///workspace/node_modules/@flux/core/dist/index.js
run_image "$own" status --json
statuses=$(node -e '
  const { migrations } = JSON.parse(process.argv[1])
  process.stdout.write(migrations.map((m) => `${m.id}=${m.status}`).sort().join(" "))' "$out" 2>/dev/null)
check "own node_modules: status --json ($statuses)" test "$statuses" = \
  "@image-test/notes/001_notes=applied app/001_app=applied"

# ---------------------------------------------------------------- the README's pipeline example

# the README's code block with `podman run ... -v "$PWD:/workspace"`: its `podman run` lines run
# as written (the image's name replaced by the one built) in a pg project, in a database of its own
readme_block=$(awk -v marker='-v "$PWD:/workspace"' '
  /^```/ {
    if (inside && found) { printf "%s", text; exit }
    inside = !inside; text = ""; found = 0; next
  }
  inside { text = text $0 "\n"; if (index($0, marker)) found = 1 }' "$README")
if [ -z "$readme_block" ]; then
  echo "SKIP  $README has no code block with podman run ... -v \"\$PWD:/workspace\" (the image's section) yet"
else
  pipeline=$WORK/pipeline
  cp -r "$HERE/pipeline" "$pipeline"
  chown -R "$FLUX_UID:$FLUX_UID" "$pipeline"
  node "$HERE/stores.mjs" createdb
  readme_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = `/${process.argv[2]}`; process.stdout.write(u.href)' \
    "$FLUX_TEST_PG_URL" "$PG_DATABASE")
  lines=0
  while IFS= read -r line; do
    lines=$((lines + 1))
    command=$(sed -E "s#localhost/flux:[^ ]+#$IMAGE#" <<<"$line")
    (cd "$pipeline" && DATABASE_URL=$readme_url bash -c "$command") >"$WORK/stdout" 2>"$WORK/stderr"
    code=$?
    printf '$ %s\n%s\n' "$command" "$(cat "$WORK/stdout" "$WORK/stderr")" >>"$OUT"
    check "README: \`${line:0:100}\` exits 0 (got $code)" test "$code" = 0
    [ "$code" = 0 ] || echo "      stderr: $(head -c 600 "$WORK/stderr")"
  done < <(grep -E '^podman run ' <<<"$readme_block" | sed -E 's/[[:space:]]+#.*$//')
  check "README: the block has podman run lines ($lines)" test "$lines" -gt 0
  saved_url=$DATABASE_URL
  DATABASE_URL=$readme_url
  run_image "$pipeline" status --json
  DATABASE_URL=$saved_url
  statuses=$(node -e '
    const { migrations } = JSON.parse(process.argv[1])
    process.stdout.write(migrations.map((m) => `${m.id}=${m.status}`).join(" "))' "$out" 2>/dev/null)
  check "README: after its lines, the project's migration is applied ($statuses)" \
    test "$statuses" = "app/20261207120000_add-photos=applied"
fi

# ---------------------------------------------------------------- secrets

check "no output shows the pg password" test -z "$(grep -F -- "$PG_PASSWORD" "$OUT")"
check "no output shows the S3 secret key" test -z "$(grep -F -- "$AWS_SECRET_ACCESS_KEY" "$OUT")"

echo "image test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
