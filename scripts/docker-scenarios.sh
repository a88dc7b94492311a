#!/usr/bin/env bash
# `make docker-scenarios`: every scenario on a real Docker engine, with the
# unchanged docker-compose.yml and stack/docker-stack.yml.
#
#   TOPOLOGY=compose|swarm|both   (default both)
#   PROXY=haproxy|nginx|both      Compose runs each one asked for; Swarm is HAProxy only
#   REDIS=standalone|sentinel|both  sentinel: one more suite (HAProxy) per topology on
#                                 its Sentinel variant (docker-compose.sentinel.yml,
#                                 stack/docker-stack.sentinel.yml) (default standalone)
#   ADAPTER, REPLICAS, CLIENTS, ARGS as for `make scenarios`
#
# Uses the engine that answers (DOCKER_HOST or the default socket); when none
# does, starts a private one (scripts/docker-engine.sh) and stops it, with
# everything it ran, on exit, failure and Ctrl-C. Pinned images that cannot
# be pulled are replaced by stand-ins (stand-ins/build.sh). A Swarm this
# script initialises is left again afterwards. Results (JSON, one file per
# suite) go to $WSK_RESULTS_DIR (default test-results/docker).
#
# Exit 0 only when every suite ran and passed: a machine that cannot get an
# engine fails loudly (exit 1) instead of passing with nothing run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOPOLOGY="${TOPOLOGY:-both}"
PROXY="${PROXY:-haproxy}"
ADAPTER="${ADAPTER:-redis}"
REPLICAS="${REPLICAS:-3}"
CLIENTS="${CLIENTS:-30}"
ARGS="${ARGS:-}"
REDIS="${REDIS:-standalone}"
RESULTS="${WSK_RESULTS_DIR:-$ROOT/test-results/docker}"

say() { printf 'docker-scenarios: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case "$TOPOLOGY" in compose) topologies=(compose) ;; swarm) topologies=(swarm) ;; both) topologies=(compose swarm) ;;
  *) die "TOPOLOGY must be compose, swarm or both (got '$TOPOLOGY')" ;; esac
case "$PROXY" in haproxy) proxies=(haproxy) ;; nginx) proxies=(nginx) ;; both) proxies=(haproxy nginx) ;;
  *) die "PROXY must be haproxy, nginx or both (got '$PROXY')" ;; esac
case "$REDIS" in standalone) redis_modes=(standalone) ;; sentinel) redis_modes=(sentinel) ;; both) redis_modes=(standalone sentinel) ;;
  *) die "REDIS must be standalone, sentinel or both (got '$REDIS')" ;; esac

# Everything below runs with an engine: re-enter through docker-engine.sh.
if [ "${WSK_DOCKER_SCENARIOS_INSIDE:-}" != 1 ]; then
  export WSK_DOCKER_SCENARIOS_INSIDE=1
  exec bash "$ROOT/scripts/docker-engine.sh" run bash "$ROOT/scripts/docker-scenarios.sh"
fi

mkdir -p "$RESULTS"
SWARM_INITIALISED=0
leave_swarm() {
  if [ "$SWARM_INITIALISED" = 1 ]; then
    say "leaving the swarm this run initialised"
    docker swarm leave --force >/dev/null 2>&1 || true
    SWARM_INITIALISED=0
  fi
}
trap leave_swarm EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$ROOT/stand-ins/build.sh"

# Sentinel is about Redis, not the proxy: HAProxy only. Not
# redis-switchover: on Compose it lost broadcasts after /readyz said ready in
# 3 of 9 pub/sub runs (node-redis' sentinel client leaves a publisher on the
# demoted master; see README, Redis on Compose).
SENTINEL_SCENARIOS="${SENTINEL_SCENARIOS:-affinity,broadcast,rooms,observe,scale,failover,drain,redis-failover,fetch-after-kill,recovery}"
failed=()
failed_outputs=()
passed=()
# suite TOPOLOGY PROXY [REDIS]: one scenario run; its exit code decides.
suite() {
  local topology=$1 proxy=$2 redis=${3:-standalone} name
  name="$topology-$proxy-$ADAPTER"
  [ "$redis" = standalone ] || name="$name-$redis"
  local json="$RESULTS/$name.json" logs="$RESULTS/$name-logs"
  say "suite: --topology $topology --proxy $proxy --adapter $ADAPTER --redis $redis --replicas $REPLICAS --clients $CLIENTS $ARGS"
  # ARGS is word-split on purpose, as in `make scenarios`.
  # shellcheck disable=SC2086
  # The output is also kept ($name.out): the summary at the end repeats the
  # failed checks, so the last lines of a CI log say what failed.
  if node --import tsx scenarios/cli.ts --topology "$topology" --proxy "$proxy" --adapter "$ADAPTER" --redis "$redis" \
    --replicas "$REPLICAS" --clients "$CLIENTS" --json "$json" --log-dir "$logs" $ARGS </dev/null 2>&1 | tee "$RESULTS/$name.out"; then
    passed+=("$topology/$proxy/$redis")
  else
    failed+=("$topology/$proxy/$redis")
    failed_outputs+=("$RESULTS/$name.out")
  fi
}

for topology in "${topologies[@]}"; do
  if [ "$topology" = swarm ]; then
    state=$(docker info --format '{{.Swarm.LocalNodeState}}')
    if [ "$state" = inactive ]; then
      say "docker swarm init --advertise-addr 127.0.0.1 (a one-node swarm for this run)"
      docker swarm init --advertise-addr 127.0.0.1 >/dev/null
      SWARM_INITIALISED=1
    fi
    for redis in "${redis_modes[@]}"; do
      if [ "$redis" = sentinel ]; then
        # stack/docker-stack.sentinel.yml; the same scenarios as on Compose.
        ARGS="--only $SENTINEL_SCENARIOS $ARGS" suite swarm haproxy sentinel
      else
        suite swarm haproxy
      fi
    done
    leave_swarm
  else
    for redis in "${redis_modes[@]}"; do
      if [ "$redis" = sentinel ]; then
        ARGS="--only $SENTINEL_SCENARIOS $ARGS" suite compose haproxy sentinel
      else
        for proxy in "${proxies[@]}"; do suite compose "$proxy"; done
      fi
    done
  fi
done

say "results in $RESULTS"
[ ${#passed[@]} -eq 0 ] || say "passed: ${passed[*]}"
if [ ${#failed[@]} -gt 0 ]; then
  for out in "${failed_outputs[@]}"; do
    say "$(basename "$out" .out): what failed"
    # A scenario's FAIL line and its failed checks (✗), or the runner's own error.
    grep -E '^[0-9:.]+ FAIL |✗|^Error|error:' "$out" | cut -c1-400 | head -20 >&2 || true
  done
  die "failed: ${failed[*]}"
fi
say "every Docker suite passed"
