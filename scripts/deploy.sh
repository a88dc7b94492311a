#!/usr/bin/env bash
# `make deploy`: stack/docker-stack.yml on this engine's swarm, as STACK.
#
# The steps of stack/README.md, for a manager node:
#   - the three secrets ${STACK}_redis_password, _cookie_key, _stats_password
#     are created (random, through stdin) only when missing;
#   - without WSK_SERVER_IMAGE, the replica image is built here as
#     wsk-server:local and deployed with --resolve-image never, which only a
#     single-node swarm can run (other nodes could not pull it);
#   - pinned images that cannot be pulled get stand-ins (stand-ins/build.sh).
#   - REDIS=sentinel adds stack/docker-stack.sentinel.yml (three data nodes,
#     three sentinels) and deploys with WSK_REDIS_URL set and empty.
# Not a swarm manager: a clear error saying `docker swarm init`.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK="${STACK:-wsk}"
REDIS="${REDIS:-standalone}"
files=(-c stack/docker-stack.yml)
case "$REDIS" in
  standalone) ;;
  sentinel) files+=(-c stack/docker-stack.sentinel.yml); export WSK_REDIS_URL= ;;
  *) printf 'deploy: REDIS must be standalone or sentinel (got %s)\n' "$REDIS" >&2; exit 2 ;;
esac
say() { printf 'deploy: %s\n' "$*" >&2; }
state=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null) ||
  { say "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-default}); start one: make engine"; exit 1; }
if [ "$state" != "active true" ]; then
  say "this engine is not a swarm manager (state: $state); run \`docker swarm init\` (one node: --advertise-addr 127.0.0.1) first"
  exit 1
fi
bash stand-ins/build.sh
for secret in redis_password cookie_key stats_password; do
  name="${STACK}_${secret}"
  if ! docker secret inspect "$name" >/dev/null 2>&1; then
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n' | docker secret create "$name" - >/dev/null
    say "created secret $name"
  fi
done
resolve=()
if [ -z "${WSK_SERVER_IMAGE:-}" ]; then
  export WSK_SERVER_IMAGE=wsk-server:local
  say "building $WSK_SERVER_IMAGE (single-node swarms only; set WSK_SERVER_IMAGE to a registry image otherwise)"
  docker build -q -t "$WSK_SERVER_IMAGE" . >/dev/null
  resolve=(--resolve-image never)
fi
WSK_SECRET_PREFIX="$STACK" docker stack deploy --detach=false "${resolve[@]}" "${files[@]}" "$STACK"
say "deployed stack $STACK: http://127.0.0.1:${WSK_HAPROXY_PORT:-8080} (remove with: make undeploy)"
