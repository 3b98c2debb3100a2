#!/usr/bin/env bash
# Builds the Hail/Spark cluster node image offline (no registry), in two cached layers:
#   base   images/hail-cluster/base.sh: a debootstrap Debian root with Java 17 from Debian and
#          hail + the pyspark it requires + jupyter-server from PyPI in a venv, `docker import`ed
#          (slow: ~25 min on 2 cores, most of it pip building pyspark's sdist);
#   node   images/hail-cluster/Dockerfile: the login profile and the node entrypoint on top
#          (seconds; no network).
# Each tag is content-addressed (its recipe and versions), so a rebuild happens only when
# one of them changes, and an entrypoint change never rebuilds the base.
#
#   bash scripts/build-cluster-image.sh          builds what is missing; prints the image tag
#   bash scripts/build-cluster-image.sh --tag    prints the tag without building
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/images/hail-cluster"
fail() { echo "build-cluster-image: $*" >&2; exit 1; }

base_digest="$(cat "$SRC/base.sh" "$SRC/versions.env" | sha256sum | cut -c1-16)"
base="hail-batch-cluster-base:$base_digest"
digest="$(printf '%s\n' "$base" | cat - "$SRC/Dockerfile" "$SRC/profile.sh" "$SRC/entrypoint.sh" "$SRC/node-exec.py" | sha256sum | cut -c1-16)"
tag="hail-batch-cluster:$digest"
if [ "${1:-}" = "--tag" ]; then echo "$tag"; exit 0; fi

command -v docker >/dev/null 2>&1 || fail "docker client missing; run scripts/docker-engine.sh first"
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi

# One build at a time per machine; a second caller waits and then finds the image.
mkdir -p /var/tmp/hail-batch-cluster-build
exec 8>/var/tmp/hail-batch-cluster-build/lock
flock 8
if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; exit 0; fi
start=$(date +%s)
if ! docker image inspect "$base" >/dev/null 2>&1; then
  bash "$SRC/base.sh" "$base" || fail "base image build failed"
fi
echo "build-cluster-image: node layer ($(( $(date +%s) - start )) s)" >&2
docker build -q --build-arg "BASE=$base" -t "$tag" "$SRC" >/var/tmp/hail-batch-cluster-build/node-layer.log 2>&1 \
  || { cat /var/tmp/hail-batch-cluster-build/node-layer.log >&2; fail "docker build of the node layer failed"; }
echo "build-cluster-image: built $tag ($(( $(date +%s) - start )) s)" >&2
echo "$tag"
