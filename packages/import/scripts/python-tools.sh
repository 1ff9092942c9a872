#!/usr/bin/env bash
# Makes a Python venv with Alembic (SQLAlchemy, psycopg2) and Django at pinned versions from PyPI,
# in a cache outside the repository, and prints its bin folder. The import tests run these tools
# to apply the first half of a history exactly as they do. Exit 3 (and a message on stderr) when
# Python, its venv module or PyPI is not available: the tests then skip with that message.
set -euo pipefail

# Django 5.2 is the newest line that runs on Python 3.11 (6.x needs 3.12)
PINS=(alembic==1.20.1 SQLAlchemy==2.1.9 psycopg2-binary==2.9.13 Django==5.2.20)
FLUX_CACHE=${FLUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flux}

if ! command -v python3 >/dev/null 2>&1; then
  echo "python tools: no python3 on PATH" >&2
  exit 3
fi
python=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
hash=$(printf '%s\n' "python$python" "${PINS[@]}" | sha256sum | cut -c1-12)
VENV="$FLUX_CACHE/import-python-$hash"

ready() { [ -x "$VENV/bin/alembic" ] && [ -x "$VENV/bin/django-admin" ] && [ -f "$VENV/.complete" ]; }
if ready; then
  echo "$VENV/bin"
  exit 0
fi
# one install at a time: two test files may ask at once
mkdir -p "$FLUX_CACHE"
exec 9>"$VENV.lock"
flock 9
if ready; then
  echo "$VENV/bin"
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  # Debian's python3 has venv and ensurepip in a package of their own
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    if ! apt-cache show "python$python-venv" >/dev/null 2>&1; then apt-get update -qq >&2 || true; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "python$python-venv" >&2 || true
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "python tools: python3 $python has no venv module (install python$python-venv)" >&2
    exit 3
  fi
fi
rm -rf "$VENV"
if ! python3 -m venv "$VENV" >&2; then
  echo "python tools: python3 -m venv $VENV failed" >&2
  exit 3
fi
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PINS[@]}" >&2; then
  rm -rf "$VENV"
  echo "python tools: pip install ${PINS[*]} failed (is PyPI reachable?)" >&2
  exit 3
fi
touch "$VENV/.complete"
echo "$VENV/bin"
