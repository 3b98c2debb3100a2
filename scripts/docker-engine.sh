#!/usr/bin/env bash
# Makes sure a Docker engine is reachable, starting (and if need be installing) one.
# Idempotent and quiet on success; on failure says what is missing and exits non-zero.
# Agents and tests call it before they touch Docker, sometimes several at once, hence the lock.
set -euo pipefail

data_dir="${HB_DATA_DIR:-.data}"
mkdir -p "$data_dir"
log="$data_dir/dockerd.log"

# A time limit: an engine that is running but wedged answers nothing, which is no better than none.
engine_up() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }
fail() { echo "docker-engine: $*" >&2; exit 1; }

engine_up && exit 0

# Serialise concurrent callers so only one of them installs or starts dockerd.
exec 9>"$data_dir/.docker-engine.lock"
flock -w 120 9 || fail "another docker-engine.sh has held $data_dir/.docker-engine.lock for 2 minutes"
engine_up && exit 0

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "no Docker engine is reachable and dockerd is not installed; install docker.io (needs root and apt) or start an engine and set DOCKER_HOST"
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q docker.io >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q docker.io >/dev/null 2>&1 || fail "apt-get install docker.io failed"
  fi
fi

if [ "$(id -u)" != 0 ]; then
  fail "dockerd is installed but not running, and starting it needs root"
fi

# Leftovers of an engine that was killed rather than stopped (a machine torn down around it):
# a pid file whose pid now belongs to some other process makes dockerd refuse to start, and an
# orphaned managed containerd keeps its socket. Only called when no dockerd runs, so all of it is stale.
clear_stale_state() {
  pkill -9 -f '^containerd --config /var/run/docker/containerd/' 2>/dev/null || true
  rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
}

stop_dockerd() {
  pkill -x dockerd || true
  for _ in $(seq 1 40); do pgrep -x dockerd >/dev/null 2>&1 || return 0; sleep 0.5; done
  pkill -9 -x dockerd 2>/dev/null || true
  sleep 1
}

# Starts dockerd and waits up to $1 seconds for it to answer. Fails at once when dockerd exits.
start_and_wait() {
  local limit=$1 mark pid
  clear_stale_state
  mark=0
  [ -f "$log" ] && mark=$(wc -l <"$log")
  # setsid: the engine must outlive the shell (and process group) that started it.
  # 9>&-: the daemon must not inherit the lock, or it would hold it for its whole life.
  setsid nohup dockerd >>"$log" 2>&1 </dev/null 9>&- &
  pid=$!
  for _ in $(seq 1 $((limit * 2))); do
    engine_up && return 0
    if ! kill -0 "$pid" 2>/dev/null && ! pgrep -x dockerd >/dev/null 2>&1; then
      echo "docker-engine: dockerd exited while starting; its log says:" >&2
      tail -n +"$((mark + 1))" "$log" | tail -n 15 >&2
      return 1
    fi
    sleep 0.5
  done
  echo "docker-engine: dockerd did not answer 'docker info' within $limit s; the end of its log:" >&2
  tail -n +"$((mark + 1))" "$log" | tail -n 15 >&2
  return 1
}

if pgrep -x dockerd >/dev/null 2>&1; then
  # Running but not answering: restart it (its containers are stopped with it; agents own none
  # that must survive, and they clean up their own on start-up).
  echo "docker-engine: dockerd is not answering; restarting it" >&2
  stop_dockerd
fi

# A second try covers a first start that tripped over state the cleanup could not foresee.
start_and_wait 90 && exit 0
echo "docker-engine: trying once more" >&2
stop_dockerd
start_and_wait 90 && exit 0
fail "no Docker engine could be started; see $log"
