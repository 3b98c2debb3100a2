#!/usr/bin/env bash
# Runs Hail's own service tests (batch/test/test_batch.py and test_dag.py of a hail-is/hail
# checkout) against a running local service (`npm start`), with the hailtop client of
# .tools/hail-venv. It is not part of `npm test`: it takes tens of minutes and needs a
# Debian root image built with debootstrap (a few minutes, once).
#
#   usage: scripts/hail-suite.sh HAIL_CHECKOUT [pytest args...]   e.g. -k test_job
#
#   HB_DATA_DIR       data directory of the running service (default .data); its
#                     dev-credentials.json gives the URL and the token
#   HB_SUITE_TIMEOUT  seconds per test (default 900)
#   HB_SUITE_FILES    test files inside batch/test (default "test_batch.py test_dag.py")
#   HB_SUITE_CALLBACK_PORT  the port test_dag.py's callback server listens on (Hail's tests fix 5000)
#
# It makes, when missing: the images the tests name (`ubuntu:24.04` and `alpine:3.8`, both a
# debootstrap Debian root with curl, python3 and netcat; `python:3.6-slim-stretch`, the same
# with `python`; `hail-suite-workdir:latest`, the same with WORKDIR /work; `hail-suite-volume`,
# Hail's volume test image), the user `test` in the billing project `test`, a tokens file and an
# empty client configuration (so no ~/.config/hail identity is used), and a venv with pytest
# in .tmp/hail-suite/venv on top of .tools/hail-venv. The JUnit report lands in
# .tmp/hail-suite/junit.xml.
set -euo pipefail

HAIL_DIR=${1:?usage: scripts/hail-suite.sh HAIL_CHECKOUT [pytest args...]}
shift
HAIL_DIR=$(cd "$HAIL_DIR" && pwd)
[ -f "$HAIL_DIR/batch/test/test_batch.py" ] || { echo "no batch/test/test_batch.py in $HAIL_DIR" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA_DIR=${HB_DATA_DIR:-.data}
case "$DATA_DIR" in /*) ;; *) DATA_DIR="$ROOT/$DATA_DIR" ;; esac
CREDS="$DATA_DIR/dev-credentials.json"
[ -f "$CREDS" ] || { echo "no $CREDS: start the service first (npm start, same HB_DATA_DIR)" >&2; exit 2; }
WORK="$ROOT/.tmp/hail-suite"
mkdir -p "$WORK"

say() { printf 'hail-suite: %s\n' "$*" >&2; }

# --- images -----------------------------------------------------------------------------
if ! docker image inspect ubuntu:24.04 >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || apt-get install -y debootstrap >&2
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  say "building ubuntu:24.04 (a Debian bookworm root, from $MIRROR; a few minutes)"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=curl,ca-certificates,python3,procps,netcat-openbsd \
    bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  tar -C "$WORK/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - ubuntu:24.04 >/dev/null
  rm -rf "$WORK/rootfs"
fi
docker image inspect alpine:3.8 >/dev/null 2>&1 || docker tag ubuntu:24.04 alpine:3.8
# Hail's own test images, from the same root: python:3.6-slim-stretch (test_out_of_memory runs
# `python`) and its volume image (VOLUME /data, WORKDIR /tmp, VOLUME relative_volume).
if ! docker image inspect python:3.6-slim-stretch >/dev/null 2>&1; then
  cid=$(docker create ubuntu:24.04 ln -s /usr/bin/python3 /usr/local/bin/python)
  docker start -a "$cid" >/dev/null
  docker commit "$cid" python:3.6-slim-stretch >/dev/null
  docker rm "$cid" >/dev/null
fi
if ! docker image inspect hail-suite-volume:latest >/dev/null 2>&1; then
  cid=$(docker create ubuntu:24.04 true)
  docker commit --change 'VOLUME ["/data"]' --change 'WORKDIR /tmp' --change 'VOLUME ["relative_volume"]' "$cid" hail-suite-volume:latest >/dev/null
  docker rm "$cid" >/dev/null
fi
if ! docker image inspect hail-suite-workdir:latest >/dev/null 2>&1; then
  cid=$(docker create ubuntu:24.04 true)
  docker commit --change 'WORKDIR /work' "$cid" hail-suite-workdir:latest >/dev/null
  docker rm "$cid" >/dev/null
fi

# --- billing project, tokens, client configuration --------------------------------------
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$CREDS")
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$CREDS")
USER_NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"])' "$CREDS")
api() { curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -X POST "$URL/api/v1alpha/$1"; }
code=$(api billing_projects/test/create)
case "$code" in 200|201|400|403|409) ;; *) echo "creating billing project test: HTTP $code" >&2; exit 1 ;; esac
api billing_projects/test/reopen >/dev/null || true
code=$(api "billing_projects/test/users/$USER_NAME/add")
case "$code" in 200|201|400|403|409) ;; *) echo "adding $USER_NAME to billing project test: HTTP $code" >&2; exit 1 ;; esac

# The suite runs as Hail's CI does, as a user named `test` (test_dag.py's callback test checks
# the name), with a token of its own issued by the dev user, an admin.
curl -sS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -X POST "$URL/api/v1alpha/users" -d '{"username":"test"}'
code=$(api "billing_projects/test/users/test/add")
case "$code" in 200|201|400|403|409) ;; *) echo "adding test to billing project test: HTTP $code" >&2; exit 1 ;; esac
TEST_TOKEN=$(curl -sS -H "Authorization: Bearer $TOKEN" -X POST "$URL/api/v1alpha/users/test/tokens" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
python3 -c 'import json,sys; print(json.dumps({"default": sys.argv[1]}))' "$TEST_TOKEN" >"$WORK/tokens.json"
mkdir -p "$WORK/config"

# --- pytest venv ------------------------------------------------------------------------
HAIL_VENV="$ROOT/.tools/hail-venv"
[ -x "$HAIL_VENV/bin/python" ] || { echo "no $HAIL_VENV: run bash scripts/setup.sh --test once" >&2; exit 2; }
VENV="$WORK/venv"
if [ ! -f "$VENV/.installed" ]; then
  say "installing pytest into $VENV"
  rm -rf "$VENV"
  "$(readlink -f "$HAIL_VENV/bin/python")" -m venv "$VENV"
  # The suite venv sees hailtop and its dependencies from .tools/hail-venv.
  site=$("$HAIL_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  vsite=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$site" >"$vsite/hail-venv.pth"
  "$VENV/bin/pip" install -q pytest==8.4.2 pytest-asyncio==1.2.0 pytest-timeout==2.4.0 >&2
  touch "$VENV/.installed"
fi

# --- run --------------------------------------------------------------------------------
# hailtop reaches a service at HAIL_DOMAIN as is only through its Terra deploy config (the
# others build `batch.<domain>` host names), chosen by HAIL_TERRA when the first client is
# made (and cached). The suite reads HAIL_TERRA when its modules are imported, to skip what Terra lacks; we
# are no Terra deployment, so HAIL_TERRA is set only once the tests are collected.
cat >"$WORK/hb_suite_plugin.py" <<'PY'
import os


def pytest_collection_finish(session):
    os.environ['HAIL_TERRA'] = '1'
    # Collection already made (and cached) a deploy config: the next client makes a Terra one.
    import hailtop.config.deploy_config as dc
    dc.deploy_config = None
    # Test modules that read it at import (test_batch's `deploy_config`) get the same one.
    for module in {item.module for item in session.items if getattr(item, 'module', None)}:
        if isinstance(getattr(module, 'deploy_config', None), dc.DeployConfig):
            module.deploy_config = dc.get_deploy_config()
PY
export PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}"
host_port=${URL#http://}
files=()
for f in ${HB_SUITE_FILES:-test_batch.py test_dag.py}; do files+=("batch/test/$f"); done
cd "$HAIL_DIR"
export HAIL_LOCATION=gce HAIL_DOMAIN="$host_port" HAIL_CLOUD=gcp \
  HAIL_TOKENS_FILE="$WORK/tokens.json" XDG_CONFIG_HOME="$WORK/config" \
  HAIL_BATCH_BILLING_PROJECT=test HAIL_BILLING_PROJECT=test \
  DOCKER_ROOT_IMAGE=ubuntu:24.04 HAIL_CURL_IMAGE=ubuntu:24.04 HAIL_NETCAT_UBUNTU_IMAGE=ubuntu:24.04 \
  HAIL_WORKDIR_IMAGE=hail-suite-workdir:latest HAIL_VOLUME_IMAGE=hail-suite-volume:latest \
  HAIL_BATCH_WORKER_IP=127.0.0.1 HAIL_BATCH_WORKER_PORT="${HB_SUITE_CALLBACK_PORT:-5000}" \
  HAIL_BATCH_ID="${HAIL_BATCH_ID:-0}" HAIL_JOB_ID="${HAIL_JOB_ID:-0}"
# The suite is written to run inside a Hail job (its create_batch adds a `client_job`
# attribute from HAIL_BATCH_ID / HAIL_JOB_ID, and test_batch_callback expects it): say so.
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -p hb_suite_plugin -o cache_dir="$WORK/pytest-cache" \
  --timeout="${HB_SUITE_TIMEOUT:-900}" -rfE --junitxml="$WORK/junit.xml" "${files[@]}" "$@"
