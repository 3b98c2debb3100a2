#!/usr/bin/env bash
# Makes sure a Docker engine is reachable, starting (and if need be installing) one.
# Idempotent and quiet on success; on failure says what is missing and exits non-zero.
# Agents and tests call it before they touch Docker, sometimes several at once, hence the lock.
set -euo pipefail

# The engine is one per machine, so its state is too (not per data directory): the lock, the
# log, and the pid file of the engine this script started. Only that engine, identified by
# pid and kernel start time, is ever stopped here; an engine someone else runs is left alone.
state_dir="${HB_DOCKER_STATE_DIR:-/var/run/hail-batch-docker}"
log="$state_dir/dockerd.log"
pid_file="$state_dir/dockerd.pid"          # written by dockerd itself (--pidfile)
ours_file="$state_dir/dockerd.ours"        # "pid start-time" of the dockerd we started
containerd_ours="$state_dir/containerd.ours"

# A time limit: an engine that is running but wedged answers nothing, which is no better than none.
engine_up() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }
fail() { echo "docker-engine: $*" >&2; exit 1; }

# Field 22 of /proc/<pid>/stat, counted after the command name's closing parenthesis; fails
# for a process that is gone or has exited (a zombie waiting for its parent).
start_time() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  [ "$1" != Z ] && [ "$1" != X ] || return 1
  echo "${20}"
}

# Succeeds when the "pid start-time" in file $1 names a live process.
recorded_alive() {
  local pid st
  [ -f "$1" ] || return 1
  read -r pid st <"$1" || return 1
  [ -n "$pid" ] && [ "$(start_time "$pid" 2>/dev/null)" = "$st" ]
}
parent_of() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo "$2"
}
recorded_pid() { local pid _st; read -r pid _st <"$1"; echo "$pid"; }

engine_up && exit 0

mkdir -p "$state_dir" 2>/dev/null ||
  fail "no Docker engine is reachable, and $state_dir cannot be created to start one (needs root); start an engine and set DOCKER_HOST"

# Serialise concurrent callers (agents and tests of any data directory) so only one of them
# installs or starts dockerd.
exec 9>"$state_dir/docker-engine.lock"
flock -w 120 9 || fail "another docker-engine.sh has held $state_dir/docker-engine.lock for 2 minutes"
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

# Stops the engine we started, found by our own record, and its managed containerd: a dockerd
# killed rather than stopped leaves that containerd running with its socket, which a new
# dockerd would trip over. Nothing is done to processes we did not record.
stop_ours() {
  local pid
  if recorded_alive "$ours_file"; then
    pid=$(recorded_pid "$ours_file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do recorded_alive "$ours_file" || break; sleep 0.5; done
    recorded_alive "$ours_file" && kill -9 "$pid" 2>/dev/null || true
  fi
  if recorded_alive "$containerd_ours"; then
    kill -9 "$(recorded_pid "$containerd_ours")" 2>/dev/null || true
  fi
  rm -f "$ours_file" "$containerd_ours" "$pid_file"
}

# Starts dockerd and waits up to $1 seconds for it to answer. Fails at once when dockerd exits.
start_and_wait() {
  local limit=$1 mark pid exec_root=/var/run/docker
  stop_ours
  mark=0
  [ -f "$log" ] && mark=$(wc -l <"$log")
  # setsid: the engine must outlive the shell (and process group) that started it.
  # 9>&-: the daemon must not inherit the lock, or it would hold it for its whole life.
  setsid nohup dockerd --pidfile "$pid_file" >>"$log" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid $(start_time "$pid")" >"$ours_file"
  for _ in $(seq 1 $((limit * 2))); do
    if engine_up; then
      local cpid
      cpid=$(cat "$exec_root/containerd/containerd.pid" 2>/dev/null || true)
      # Recorded only when it is our dockerd's own child (the managed one), never another engine's.
      if [ -n "$cpid" ] && [ "$(parent_of "$cpid")" = "$pid" ] && st=$(start_time "$cpid"); then
        echo "$cpid $st" >"$containerd_ours"
      fi
      return 0
    fi
    if ! recorded_alive "$ours_file"; then
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

if recorded_alive "$ours_file"; then
  # Ours, running but not answering: restart it (its containers are stopped with it; agents
  # own none that must survive, and they clean up their own on start-up).
  echo "docker-engine: the dockerd this script started is not answering; restarting it" >&2
  stop_ours
elif other=$(pgrep -x dockerd 2>/dev/null | head -n 1) && [ -n "$other" ]; then
  fail "a Docker engine this script did not start (dockerd pid $other) runs but does not answer 'docker info'; restart it yourself or set DOCKER_HOST"
fi

# A second try covers a first start that tripped over state the cleanup could not foresee.
start_and_wait 90 && exit 0
echo "docker-engine: trying once more" >&2
start_and_wait 90 && exit 0
fail "no Docker engine could be started; see $log"
