#!/usr/bin/env bash
# System packages the test suite uses, in one place for `make test`, `make
# sysdeps` and .ci/run. Installs what is missing with apt when this is a
# Debian/Ubuntu machine and we are root; otherwise it names what is missing
# and the tests that need it skip with that reason (under CI=true they fail).
set -euo pipefail

# command that must exist -> Debian package that provides it
declare -A NEED=(
  [bwrap]=bubblewrap
  [chromium]=chromium
  [redis-server]=redis-server
  [dockerd]=docker.io
  [mmdebstrap]=mmdebstrap
  [node]=nodejs
  [npm]=npm
  [docker-compose]=docker-compose
)

missing=()
for cmd in "${!NEED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ] || missing+=("${NEED[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "sysdeps: installing ${missing[*]} with apt-get" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "sysdeps: missing ${missing[*]} (install them with your package manager);" \
       "the tests that need them will skip" >&2
fi
