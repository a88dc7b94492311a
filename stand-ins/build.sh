#!/usr/bin/env bash
# Make every image the deployable files pin available on this engine, for
# machines that cannot pull (no registry reachable). For each pinned tag:
#
#   1. already on the engine (pulled, or built by an earlier run): keep it;
#   2. else `docker pull` it (WSK_STAND_INS=auto, the default): a machine
#      with a registry gets the real image and never a stand-in;
#   3. else build a stand-in from Debian packages and tag it with the very
#      same name, so docker-compose.yml, stack/docker-stack.yml and the
#      Dockerfile run unchanged. stand-ins/README.md lists every difference.
#
#   stand-ins/build.sh [--rebuild]     (DOCKER_HOST as for any docker command)
#
# WSK_STAND_INS=auto|always|never: `always` skips the pull (build a stand-in
# unless the tag is there), `never` fails when a tag is neither present nor
# pullable. --rebuild replaces stand-ins (never real images) built earlier.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
MODE="${WSK_STAND_INS:-auto}"
REBUILD=0
[ "${1:-}" = --rebuild ] && REBUILD=1
LABEL=org.wsk.stand-in
PULL_TIMEOUT_S=60

say() { printf 'stand-ins: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
case "$MODE" in auto | always | never) ;; *) die "WSK_STAND_INS must be auto, always or never (got '$MODE')" ;; esac
command -v docker >/dev/null || die "the docker CLI is not installed"
timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-default}); start one with scripts/docker-engine.sh start"

# The pinned tags, read from the files that pin them so they cannot drift.
node_tag=$(sed -n 's/^ARG NODE_IMAGE=//p' "$ROOT/Dockerfile" | head -1)
compose_tags=$(grep -E '^ +image: +[a-z]+:[0-9]' "$ROOT/docker-compose.yml" | awk '{print $2}' | sort -u)
stack_tags=$(grep -E '^ +image: +[a-z]+:[0-9]' "$ROOT/stack/docker-stack.yml" | awk '{print $2}' | sort -u)
[ -n "$node_tag" ] || die "no ARG NODE_IMAGE=... in Dockerfile"
for tag in $stack_tags; do
  grep -qx -F "$tag" <<<"$compose_tags" || die "stack/docker-stack.yml pins $tag, docker-compose.yml does not: pin the same versions in both"
done
tag_of() { grep -E "^$1:" <<<"$compose_tags" | head -1; }
redis_tag=$(tag_of redis)
haproxy_tag=$(tag_of haproxy)
nginx_tag=$(tag_of nginx)
for name in redis haproxy nginx; do
  tag_var="${name}_tag"
  [ -n "${!tag_var}" ] || die "docker-compose.yml pins no $name image"
done

is_stand_in() { [ "$(docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = true ]; }
present() { docker image inspect "$1" >/dev/null 2>&1; }

# A Debian root filesystem as an image, one per suite, built once.
# debootstrap's minbase is what Debian's own container images start from;
# policy-rc.d stops package scripts from starting daemons during builds,
# as in Debian's official images.
base_image() {
  local suite=$1 image="wsk-stand-in-base:$1"
  if present "$image" && [ "$REBUILD" = 0 ]; then echo "$image"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/docker-engine.sh install)"
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  local dir script="" mirror
  mirror=$(bash "$ROOT/scripts/docker-engine.sh" mirror)
  dir=$(mktemp -d "${TMPDIR:-/var/tmp}/wsk-rootfs-$suite.XXXXXX")
  # An older debootstrap may not know the newest suites; they bootstrap as sid does.
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=/usr/share/debootstrap/scripts/sid
  say "debootstrap --variant=minbase $suite (from $mirror)"
  if ! debootstrap --variant=minbase "$suite" "$dir" "$mirror" $script >"$dir.log" 2>&1; then
    tail -n 20 "$dir.log" >&2
    rm -rf "$dir" "$dir.log"
    die "debootstrap $suite failed"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  # A mirror may serve a suite (forky, here) from a snapshot whose Release
  # file is past its Valid-Until date; debootstrap took it, apt would not.
  printf 'Acquire::Check-Valid-Until "false";\n' >"$dir/etc/apt/apt.conf.d/99wsk-stand-in"
  chmod 0755 "$dir/usr/sbin/policy-rc.d"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
  rm -rf "$dir" "$dir.log"
  echo "$image"
}

# The host's Node.js (the exact version the Dockerfile pins) and npm, plus
# the host's CA bundle, laid out as the official image has them.
node_context() {
  local context=$1 node_bin npm_dir
  node_bin=$(command -v node)
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  cp -r "$HERE/node/." "$context/"
  mkdir -p "$context/rootfs/usr/local/bin" "$context/rootfs/usr/local/lib/node_modules" "$context/rootfs/etc/ssl/certs"
  cp "$(readlink -f "$node_bin")" "$context/rootfs/usr/local/bin/node"
  cp -r "$npm_dir" "$context/rootfs/usr/local/lib/node_modules/npm"
  cp "$HERE/node/docker-entrypoint.sh" "$context/rootfs/usr/local/bin/docker-entrypoint.sh"
  cp /etc/ssl/certs/ca-certificates.crt "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
}

# build TAG NAME SUITE: the stand-in for TAG from stand-ins/NAME on SUITE.
build() {
  local tag=$1 name=$2 suite=$3 base context
  base=$(base_image "$suite")
  context=$(mktemp -d)
  if [ "$name" = node ]; then node_context "$context"; else cp -r "$HERE/$name/." "$context/"; fi
  say "building stand-in $tag (stand-ins/$name on Debian $suite)"
  if ! docker build -q --force-rm --label "$LABEL=true" --label "$LABEL.suite=$suite" \
    --build-arg "BASE=$base" -t "$tag" "$context" >"$context.log" 2>&1; then
    tail -n 30 "$context.log" >&2
    rm -rf "$context" "$context.log"
    die "building the stand-in for $tag failed"
  fi
  rm -rf "$context" "$context.log"
}

# version TAG COMMAND...: what the image says its version is.
# The whole output is read before its first line is taken: `| head -1` would
# close the pipe early, docker would die of SIGPIPE, and under pipefail +
# errexit the script stopped silently (seen once, after `haproxy -v`).
version_in() {
  local tag=$1 out
  shift
  out=$(docker run --rm --entrypoint "$1" "$tag" "${@:2}" 2>&1) || die "$tag: $1 ${*:2} failed: $out"
  printf '%s\n' "${out%%$'\n'*}"
}

# Stand-ins must stay close to what they stand in for: the same HAProxy
# branch, an Nginx that can `resolve`, the same Redis major, the exact Node.
verify() {
  local tag=$1 name=$2 want=${1#*:} got
  want=${want%%-*}
  case "$name" in
    node) got=$(version_in "$tag" node --version); got=${got#v}; [ "$got" = "$want" ] || die "$tag runs Node $got, not $want" ;;
    haproxy) got=$(version_in "$tag" haproxy -v | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1); [ "${got%.*}" = "${want%.*}" ] || die "$tag runs HAProxy $got, not the $want branch" ;;
    nginx) got=$(version_in "$tag" nginx -v | grep -oE '[0-9]+\.[0-9]+\.[0-9]+'); printf '%s\n1.27.3\n' "$got" | sort -V -C -r || die "$tag runs Nginx $got; the compose file needs >= 1.27.3 (upstream resolve)" ;;
    redis) got=$(version_in "$tag" redis-server --version | grep -oE 'v=[0-9.]+' | tr -d 'v='); [ "${got%%.*}" = "${want%%.*}" ] || die "$tag runs Redis $got, not Redis ${want%%.*}" ;;
  esac
  say "$tag: stand-in ready ($name $got)"
}

ensure() {
  local tag=$1 name=$2 suite=$3
  if present "$tag" && { [ "$REBUILD" = 0 ] || ! is_stand_in "$tag"; }; then
    if is_stand_in "$tag"; then say "$tag: stand-in already built"; else say "$tag: present"; fi
    return
  fi
  if [ "$MODE" != always ] && ! is_stand_in "$tag"; then
    if timeout "$PULL_TIMEOUT_S" docker pull -q "$tag" >/dev/null 2>&1; then say "$tag: pulled"; return; fi
    [ "$MODE" = never ] && die "$tag is not on this engine and cannot be pulled (WSK_STAND_INS=never)"
    say "$tag: cannot be pulled, building a stand-in"
  fi
  build "$tag" "$name" "$suite"
  verify "$tag" "$name"
}

ensure "$node_tag" node bookworm
ensure "$redis_tag" redis bookworm
ensure "$haproxy_tag" haproxy trixie
ensure "$nginx_tag" nginx forky
