#!/usr/bin/env bash
# Prints the path of sqitch, installing Debian's package (sqitch, with DBD::Pg) when it is missing
# and this runs as root with apt-get, as scripts/services installs the servers. The import tests
# run it to apply the first half of a history exactly as sqitch does. Exit 3 (and a message on
# stderr) when sqitch cannot be had: the tests then skip with that message.
set -euo pipefail

if command -v sqitch >/dev/null 2>&1; then
  command -v sqitch
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "sqitch: not installed, and apt-get cannot install it here (not root, or no apt-get)" >&2
  exit 3
fi
if ! apt-cache show sqitch >/dev/null 2>&1; then
  apt-get update -qq >&2 || true
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends sqitch libdbd-pg-perl >&2; then
  echo "sqitch: apt-get install sqitch failed" >&2
  exit 3
fi
command -v sqitch
