#!/usr/bin/env bash
# Build the server image offline: smolkernel-serve:latest (or $TAG).
#
#   BASE=smolkernel-kernel:<tag> deploy/build-image.sh
#
# BASE defaults to the newest local smolkernel-kernel image, the Docker
# executor's base (`smolkernel image build`, mmdebstrap; built here when missing). Wheels for
# deploy/requirements.txt (pinned from the project's lock) are downloaded on
# the host with pip, where the package index is reachable; the build itself
# needs no network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"
tag="${TAG:-smolkernel-serve:latest}"
base="${BASE:-$(docker images smolkernel-kernel --format '{{.Repository}}:{{.Tag}}' | head -n 1)}"
if [ -z "$base" ]; then
  echo "build-image: no smolkernel-kernel base image yet; building it with 'smolkernel image build' (mmdebstrap, a few minutes)" >&2
  "$python" -m smolkernel.cli image build >&2
  base="$(docker images smolkernel-kernel --format '{{.Repository}}:{{.Tag}}' | head -n 1)"
fi
context="$root/build/deploy"
mkdir -p "$context/wheels"
download() {
  "$python" -m pip download -q --disable-pip-version-check -r "$here/requirements.txt" pip \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$context/wheels" "$@"
}
# the wheels of an earlier build are reused; the index is asked only for what is missing
download --no-index --find-links "$context/wheels" 2>/dev/null || download
rm -f "$context"/wheels/smolkernel-*.whl
"$python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$context/wheels" "$root"
cp "$here/Dockerfile" "$context/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q --network none --build-arg "BASE=$base" -t "$tag" "$context"
echo "$tag"
