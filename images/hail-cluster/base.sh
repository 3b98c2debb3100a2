#!/usr/bin/env bash
# The base layer of the cluster image (see scripts/build-cluster-image.sh): a debootstrap
# Debian root, Java 17 from Debian, and hail, pyspark and jupyter-server from PyPI in
# /opt/hail-venv, imported as the tag given as $1. Needs root (debootstrap, chroot).
set -euo pipefail
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tag="${1:?usage: base.sh TAG}"
fail() { echo "build-cluster-image: $*" >&2; exit 1; }
start=$(date +%s)
# shellcheck disable=SC1091
. "$SRC/versions.env"
[ "$(id -u)" = 0 ] || fail "debootstrap needs root"
export DEBIAN_FRONTEND=noninteractive
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get install -y -q debootstrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 || true; apt-get install -y -q debootstrap >/dev/null 2>&1; } \
    || fail "apt-get install debootstrap failed"
fi
mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
[ -n "$mirror" ] || mirror="http://deb.debian.org/debian"

# The caller (build-cluster-image.sh) holds the build lock.
mkdir -p /var/tmp/hail-batch-cluster-build
work="$(mktemp -d /var/tmp/hail-batch-cluster-build/root.XXXXXX)"
r="$work/root"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$r/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log="$work/build.log"
step() { echo "build-cluster-image: $* ($(( $(date +%s) - start )) s)" >&2; }

step "debootstrap $DEBIAN_SUITE"
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv,procps,curl,bash,util-linux \
  "$DEBIAN_SUITE" "$r" "$mirror" >"$log" 2>&1 || { tail -20 "$log" >&2; fail "debootstrap failed"; }
mount -t proc proc "$r/proc"; mount --bind /dev "$r/dev"; mount --bind /dev/pts "$r/dev/pts"; mount -t sysfs sys "$r/sys"
cp /etc/resolv.conf "$r/etc/resolv.conf"
inroot() { chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

step "openjdk-17-jre-headless"
# The JRE's postinst expects man directories minbase leaves out.
mkdir -p "$r/usr/share/man/man1"
inroot apt-get install -y -q --no-install-recommends openjdk-17-jre-headless >>"$log" 2>&1 || { tail -20 "$log" >&2; fail "apt-get install openjdk failed"; }
inroot apt-get clean

step "hail $HAIL_VERSION, pyspark $PYSPARK_VERSION, jupyter-server $JUPYTER_SERVER_VERSION"
# The build machine's CA bundle (it may front PyPI with its own CA) is used only while
# installing; the image keeps Debian's.
cp /etc/ssl/certs/ca-certificates.crt "$r/tmp/build-ca.crt"
inroot python3 -m venv /opt/hail-venv
inroot env PIP_CONFIG_FILE=/dev/null PIP_CERT=/tmp/build-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
  /opt/hail-venv/bin/pip install --no-cache-dir -q "hail==$HAIL_VERSION" "pyspark==$PYSPARK_VERSION" \
  "jupyter-server==$JUPYTER_SERVER_VERSION" "ipykernel==$IPYKERNEL_VERSION" >>"$log" 2>&1 \
  || { tail -20 "$log" >&2; fail "pip install failed"; }
rm -f "$r/tmp/build-ca.crt"
inroot /opt/hail-venv/bin/python3 -c 'import hail, pyspark; print(hail.__version__, pyspark.__version__)' >>"$log" 2>&1 || fail "hail does not import"

step "application user"
inroot useradd -m -u 1000 -s /bin/bash hail
mkdir -p "$r/hail/tmp" "$r/etc/spark"
chown -R 1000:1000 "$r/hail" "$r/etc/spark"
# Non-login bash (docker exec bash -c) gets the same environment.
echo '. /etc/profile.d/hail.sh' >>"$r/etc/bash.bashrc"
: >"$r/etc/resolv.conf"
for m in proc sys dev/pts dev; do umount -l "$r/$m" 2>/dev/null || true; done

step "docker import"
tar -C "$r" -c . | docker import \
  --change 'ENV PATH=/opt/hail-venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV HAIL_HOME=/hail' - "$tag" >/dev/null || fail "docker import failed"
step "built $tag"
