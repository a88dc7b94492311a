#!/usr/bin/env bash
# A Docker engine for the Docker suites on a machine that has none running.
#
#   scripts/docker-engine.sh install      install what is missing (as root, apt)
#   scripts/docker-engine.sh start        start a private dockerd (idempotent);
#                                         prints `export DOCKER_HOST=...`
#   scripts/docker-engine.sh stop         stop it and everything it ran
#   scripts/docker-engine.sh status       exit 0 and print DOCKER_HOST if an engine answers
#   scripts/docker-engine.sh run CMD...   use the engine that answers, else start
#                                         one for CMD and stop it afterwards
#                                         (on success, failure and Ctrl-C)
#   scripts/docker-engine.sh mirror       the Debian mirror apt uses here
#
# The private engine has its own socket, data root and exec root, so it never
# touches another engine's state, and `stop` only ever stops the daemon this
# script started (its pid file says which). An engine that already answers
# (DOCKER_HOST, or the default socket) is used as it is and never stopped.
#
# Images stay in the data root between runs (the stand-ins are built once);
# containers, networks, volumes, swarm state and the daemon do not.
#
# Environment: WSK_DOCKER_ROOT (default /var/lib/wsk-docker: data root and
# log), WSK_DOCKER_RUN (default /run/wsk-docker: socket, pid, exec root).
set -euo pipefail

ROOT_DIR="${WSK_DOCKER_ROOT:-/var/lib/wsk-docker}"
RUN_DIR="${WSK_DOCKER_RUN:-/run/wsk-docker}"
SOCKET="$RUN_DIR/docker.sock"
PID_FILE="$RUN_DIR/dockerd.pid"
# Written by `start` when it created the swarm / the bridge, so `stop` undoes
# exactly what this engine's runs added.
MARK_BRIDGE="$RUN_DIR/created-docker0"
# The firewall and forwarding as they were before this script's dockerd
# changed them (its chains, NAT rules, FORWARD policy DROP, ip_forward=1);
# `stop` puts them back.
IPTABLES_BEFORE="$RUN_DIR/iptables.before"
IP_FORWARD_BEFORE="$RUN_DIR/ip_forward.before"
LOG_FILE="$ROOT_DIR/dockerd.log"
START_TIMEOUT_S="${WSK_DOCKER_START_TIMEOUT_S:-60}"
STOP_TIMEOUT_S=30

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Debian's mirror as this machine's apt knows it (deb822 or one-line format).
debian_mirror() {
  local uri
  uri=$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$uri" ] || uri=$(grep -h -E '^deb +(\[[^]]*\] +)?https?://' /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit }}' || true)
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# Compose v2 from Debian's `docker-compose` 2.x package (trixie), unpacked as
# a CLI plugin: bookworm's own docker-compose is 1.29 (no `up --wait`), and
# installing trixie's package through apt would mean adding trixie to this
# machine's sources for good. A private apt state downloads just that .deb.
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
install_compose_v2() {
  local work mirror opts
  work=$(mktemp -d)
  mirror=$(debian_mirror)
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  printf 'deb %s trixie main\n' "$mirror" >"$work/sources.list"
  opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/none"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
  say "downloading Compose v2 (Debian trixie's docker-compose) from $mirror"
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$work" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  local binary
  binary=$(find "$work/root" -type f -name docker-compose -perm -u+x | head -1)
  [ -n "$binary" ] || die "the docker-compose package holds no docker-compose binary"
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$binary" "$PLUGIN_DIR/docker-compose"
  rm -rf "$work"
  say "installed $("$PLUGIN_DIR/docker-compose" version --short 2>/dev/null || echo '?') at $PLUGIN_DIR/docker-compose"
}

cmd_install() {
  local need=()
  command -v docker >/dev/null || need+=(docker.io)
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v iptables >/dev/null || need+=(iptables)
  command -v ip >/dev/null || need+=(iproute2)
  local compose_ok=1
  docker compose version >/dev/null 2>&1 || compose_ok=0
  if [ ${#need[@]} -eq 0 ] && [ "$compose_ok" = 1 ]; then return 0; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    local missing="${need[*]}"
    [ "$compose_ok" = 1 ] || missing="$missing docker-compose-v2"
    die "missing:${missing:+ $missing}. Install them as root on Debian (this script does: sudo $0 install), or provide a Docker engine with Compose v2 and set DOCKER_HOST."
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ ${#need[@]} -gt 0 ]; then
    # Debian's docker.io starts its own daemon on install where it can;
    # policy-rc.d 101 forbids that for this install: only engines this
    # script starts (or the user's) ever run.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1; fi
    say "installing ${need[*]} with apt-get"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
    [ "$created_policy" = 0 ] || rm -f "$policy"
  fi
  docker compose version >/dev/null 2>&1 || install_compose_v2
}

# Does an engine answer on the current DOCKER_HOST (or the default socket)?
engine_answers() { timeout 8 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

our_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

cmd_start() {
  if our_pid >/dev/null; then
    echo "export DOCKER_HOST=unix://$SOCKET"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "starting a Docker engine needs root (dockerd manages networks and mounts); or start one yourself and set DOCKER_HOST"
  cmd_install
  mkdir -p "$ROOT_DIR/data" "$RUN_DIR/exec"
  rm -f "$SOCKET" "$MARK_BRIDGE" "$IPTABLES_BEFORE" "$IP_FORWARD_BEFORE"
  ip link show docker0 >/dev/null 2>&1 || : >"$MARK_BRIDGE"
  iptables-save >"$IPTABLES_BEFORE" 2>/dev/null || rm -f "$IPTABLES_BEFORE"
  cat /proc/sys/net/ipv4/ip_forward >"$IP_FORWARD_BEFORE" 2>/dev/null || rm -f "$IP_FORWARD_BEFORE"
  say "starting dockerd (data root $ROOT_DIR/data, socket $SOCKET, log $LOG_FILE)"
  # setsid: the daemon outlives this shell but not `stop`; its own process
  # group lets `stop` signal containerd and the shims it started too.
  setsid dockerd \
    --storage-driver=overlay2 \
    --data-root "$ROOT_DIR/data" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PID_FILE.dockerd" \
    -H "unix://$SOCKET" \
    >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until DOCKER_HOST="unix://$SOCKET" engine_answers; do
    if ! our_pid >/dev/null; then
      tail -n 30 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      die "dockerd exited during start (log above, full log $LOG_FILE)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$LOG_FILE" >&2 || true
      cmd_stop
      die "dockerd did not answer on $SOCKET within ${START_TIMEOUT_S}s"
    fi
    sleep 0.5
  done
  say "engine $(DOCKER_HOST="unix://$SOCKET" docker version --format '{{.Server.Version}}') ready"
  echo "export DOCKER_HOST=unix://$SOCKET"
}

cmd_stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PID_FILE"
    say "no engine of this script's is running"
    return 0
  fi
  export DOCKER_HOST="unix://$SOCKET"
  # Everything on this engine is ours: remove what the suites may have left
  # (they clean up after themselves; a crash or Ctrl-C may not have).
  if engine_answers; then
    if [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != inactive ]; then
      docker swarm leave --force >/dev/null 2>&1 || true
    fi
    local containers
    containers=$(docker ps -aq 2>/dev/null || true)
    [ -z "$containers" ] || docker rm -f -v $containers >/dev/null 2>&1 || true
    docker network prune -f >/dev/null 2>&1 || true
    docker volume prune -f >/dev/null 2>&1 || true
    # Build cache and dangling layers, not the tagged images (the cache).
    docker image prune -f >/dev/null 2>&1 || true
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT_S))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  # Whatever survived the daemon (containerd, shims) is in its process group.
  kill -KILL -- "-$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  if [ -f "$MARK_BRIDGE" ]; then
    ip link del docker0 2>/dev/null || true
    ip link del docker_gwbridge 2>/dev/null || true
  fi
  # dockerd leaves its chains and rules behind when it exits; undo them.
  if [ -s "$IPTABLES_BEFORE" ]; then iptables-restore <"$IPTABLES_BEFORE" 2>/dev/null || say "could not restore the firewall from $IPTABLES_BEFORE"; fi
  if [ -s "$IP_FORWARD_BEFORE" ]; then cat "$IP_FORWARD_BEFORE" >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true; fi
  rm -f "$PID_FILE" "$PID_FILE.dockerd" "$SOCKET" "$MARK_BRIDGE" "$IPTABLES_BEFORE" "$IP_FORWARD_BEFORE"
  # Mounts of the exec root (netns, shm) outlive a killed daemon.
  { grep -o " $RUN_DIR/[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
  say "stopped"
}

cmd_status() {
  if our_pid >/dev/null; then
    echo "export DOCKER_HOST=unix://$SOCKET"
  elif engine_answers; then
    echo "export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}"
  else
    return 1
  fi
}

cmd_run() {
  [ $# -gt 0 ] || die "usage: $0 run COMMAND [ARGS...]"
  if ! our_pid >/dev/null && engine_answers; then
    say "using the engine that answers at ${DOCKER_HOST:-the default socket}"
    "$@"
    return
  fi
  local started=0
  our_pid >/dev/null || started=1
  if [ "$started" = 1 ]; then trap 'cmd_stop' EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; fi
  local exports
  exports=$(cmd_start) || exit 1
  eval "$exports"
  local status=0
  "$@" || status=$?
  return "$status"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) shift; cmd_status "$@" ;;
  run) shift; cmd_run "$@" ;;
  mirror) debian_mirror ;;
  *) die "usage: $0 install|start|stop|status|run COMMAND...|mirror" ;;
esac
