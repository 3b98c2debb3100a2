#!/usr/bin/env bash
# Builds the local image hail-batch-busybox:latest (there is no registry to pull from):
# a root holding a static busybox and its applet links, imported with `docker import`.
# Jobs in tests and the agent's input/output copier run in it. Idempotent, quiet on success.
set -euo pipefail

image="${HB_TEST_IMAGE:-hail-batch-busybox:latest}"
fail() { echo "build-test-image: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || fail "docker client missing; run scripts/docker-engine.sh first"
docker image inspect "$image" >/dev/null 2>&1 && exit 0

if [ ! -x /bin/busybox ]; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || fail "/bin/busybox missing; install busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q busybox-static >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q busybox-static >/dev/null 2>&1 || fail "apt-get install busybox-static failed"
  fi
fi
# A dynamically linked busybox would not run in an empty root.
if command -v file >/dev/null 2>&1 && file -L /bin/busybox | grep -q 'dynamically linked'; then
  fail "/bin/busybox is dynamically linked; install busybox-static"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/bin" "$root/tmp" "$root/io" "$root/etc"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
# --install -s writes absolute links into the root's /bin only when run chrooted, so make
# the links ourselves from the applet list.
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
[ -e "$root/bin/sh" ] || ln -s busybox "$root/bin/sh"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

tar -C "$root" -cf "$work/root.tar" .
docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$work/root.tar" "$image" >/dev/null \
  || fail "docker import failed"
