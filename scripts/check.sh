#!/usr/bin/env bash
# `make check`: validate every deployable file statically, with the real
# tools where they exist, and fail (exit 1) if any check fails. Prints one
# line per check: PASS, FAIL (followed by the tool's output) or SKIP (the
# file does not exist yet). A validator that is not installed is a FAIL, not
# a SKIP: a check that silently did not run proves nothing.
#
#   haproxy.cfg          haproxy -c, with the WSK_* variables of each topology,
#                        and with TLS on (a throwaway certificate made here)
#   nginx template       rendered with the local flavour, then nginx -t (plain and TLS)
#   docker-compose.yml   docker-compose config -q (Debian's 1.29), plus
#                        `docker compose config` when the v2 plugin exists
#   docker-stack.yml     docker stack config (offline)
#   Dockerfile           pinned base, non-root USER, HEALTHCHECK, init
#   tsconfig.build.json  emits dist/server/main.js from server/ alone
#   k8s/overlays/*       kubectl kustomize renders each; every object checked
#                        against the Kubernetes schema, for unknown fields,
#                        and by the drain/affinity/scaling rules
#                        (scripts/k8s-check/)
#   prometheus/          promtool check rules + promtool test rules (the
#                        alert rules and their unit tests)
#   secrets              no .env.example placeholder or secret default anywhere
#
# Run from anywhere; it checks the tree it lives in (scripts/..).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
WORK="$(mktemp -d "${TMPDIR:-/tmp}/wsk-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

failed=()
pass() { printf 'PASS  %s\n' "$1"; }
skip() { printf 'SKIP  %s (%s)\n' "$1" "$2"; }
fail() {
  printf 'FAIL  %s\n' "$1"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/      /'; fi
  failed+=("$1")
}
# check NAME COMMAND...: PASS if the command exits 0, else FAIL with its output.
check() {
  local name=$1 output
  shift
  if output=$("$@" 2>&1); then pass "$name"; else fail "$name" "$output"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# Realistic values for the variables the deployable files read. The secrets
# are fake on purpose: these checks never start anything.
fake_secret=$(printf 'check%.0s' 1 2 3 4 5 6 7 8)

# A self-signed throwaway certificate for the TLS flavours (never used to
# serve anything): certificate then key in one PEM, as both proxies take it.
tls_pem=""
if have openssl; then
  if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=wsk-check \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1; then
    cat "$WORK/tls.crt" "$WORK/tls.key" >"$WORK/tls.pem" && tls_pem="$WORK/tls.pem"
  fi
fi
# Optional variables: unset means TLS off, so the Docker files need not set them.
HAPROXY_OPTIONAL_VARS="WSK_TLS_CERT WSK_TLS_BIND WSK_TLS_PUBLIC_PORT WSK_COOKIE_SAMESITE_NONE"

# The `environment:` keys of one service in docker-compose.yml or the stack
# file (top-level `services:`, two-space indented service names).
service_env_keys() {
  awk -v svc="$2" '
    /^[^ #]/ { in_services = ($0 ~ /^services:/) }
    in_services && /^  [A-Za-z0-9_-]+:/ { current = $1; sub(":", "", current); in_env = 0 }
    in_services && current == svc && /^    environment:/ { in_env = 1; next }
    in_services && current == svc && in_env && /^    [^ ]/ { in_env = 0 }
    in_services && current == svc && in_env && /^      - [A-Z_]+/ { key = $2; sub("=.*", "", key); print key }
    in_services && current == svc && in_env && /^      [A-Z_]+:/ { key = $1; sub(":", "", key); print key }
  ' "$1"
}
# Every ${WSK_*} a file reads (haproxy "${VAR}", nginx envsubst ${VAR}),
# comments aside.
wsk_vars_in() { grep -v '^[[:space:]]*#' "$1" | grep -o -E '\$\{WSK_[A-Z0-9_]+\}' | tr -d '${}' | sort -u; }

# --- HAProxy -------------------------------------------------------------------
if [ ! -f haproxy/haproxy.cfg ]; then
  skip "haproxy/haproxy.cfg" "file not there yet"
elif ! have haproxy; then
  fail "haproxy/haproxy.cfg" "haproxy is not installed (apt-get install haproxy)"
else
  haproxy_check() { # $1 = service name, $2 = nameserver, $3 = bind
    env WSK_PROXY_BIND="$3" WSK_STATS_BIND="127.0.0.1:8404" WSK_STATS_USER=admin \
      WSK_STATS_PASSWORD="$fake_secret" WSK_DNS_NAMESERVER="$2" WSK_SERVICE_NAME="$1" \
      WSK_SERVER_PORT=3000 WSK_COOKIE_KEY="$fake_secret" haproxy -c -q -f haproxy/haproxy.cfg
  }
  check "haproxy -c haproxy/haproxy.cfg (compose: server @ 127.0.0.11)" haproxy_check server 127.0.0.11:53 '*:8080'
  check "haproxy -c haproxy/haproxy.cfg (swarm: tasks.server @ 127.0.0.11)" haproxy_check tasks.server 127.0.0.11:53 '*:8080'
  check "haproxy -c haproxy/haproxy.cfg (local: loopback DNS)" haproxy_check replicas.wsk.test 127.0.0.1:15353 127.0.0.1:18080
  if [ -z "$tls_pem" ]; then
    fail "haproxy -c haproxy/haproxy.cfg (TLS)" "openssl could not make a throwaway certificate (apt-get install openssl)"
  else
    # TLS on: the `.if` blocks switch in the ssl bind, the redirect and the
    # secure cookie; haproxy -c also loads the PEM. Then with SameSite=None.
    haproxy_tls_check() { # $1 = SameSite=None flag ("" or 1)
      # (Assignments before a function call are exported to what it runs.)
      WSK_TLS_CERT="$tls_pem" WSK_TLS_BIND='*:8443' WSK_TLS_PUBLIC_PORT=443 WSK_COOKIE_SAMESITE_NONE="$1" \
        haproxy_check server 127.0.0.11:53 '*:8080' &&
        # The TLS branch really is the one parsed: a missing PEM must be refused.
        if WSK_TLS_CERT="$WORK/missing.pem" WSK_TLS_BIND='*:8443' WSK_TLS_PUBLIC_PORT=443 \
          haproxy_check server 127.0.0.11:53 '*:8080' >/dev/null 2>&1; then
          echo "haproxy accepted WSK_TLS_CERT pointing at no file: the TLS block is not parsed"
          false
        fi
    }
    check "haproxy -c haproxy/haproxy.cfg (compose + TLS: ssl bind, 308 redirect, secure cookie)" haproxy_tls_check ""
    check "haproxy -c haproxy/haproxy.cfg (compose + TLS + SameSite=None)" haproxy_tls_check 1
  fi
  # What the k8s HAProxy overlay's command passes: the headless Service's
  # fully qualified name and the cluster DNS from resolv.conf.
  check "haproxy -c haproxy/haproxy.cfg (k8s: server-headless.wsk.svc.cluster.local @ 10.96.0.10)" \
    haproxy_check server-headless.wsk.svc.cluster.local 10.96.0.10:53 '*:8080'
  # Every variable haproxy.cfg reads must be set by both Docker files, or
  # HAProxy would start with an empty cookie key / bind address there.
  for file in docker-compose.yml stack/docker-stack.yml; do
    [ -f "$file" ] || continue
    missing=""
    for var in $(wsk_vars_in haproxy/haproxy.cfg); do
      case " $HAPROXY_OPTIONAL_VARS " in *" $var "*) continue ;; esac
      # The stack exports secret-backed variables in the haproxy command.
      if ! service_env_keys "$file" haproxy | grep -qx "$var" && ! grep -q "export .*\b$var\b" "$file"; then
        missing="$missing $var"
      fi
    done
    if [ -z "$missing" ]; then pass "haproxy variables all set in $file"; else fail "haproxy variables all set in $file" "not set:$missing"; fi
  done
fi

# --- Nginx ---------------------------------------------------------------------
if [ ! -f nginx/nginx.conf.template ]; then
  skip "nginx/nginx.conf.template" "file not there yet"
elif ! have nginx || ! have envsubst; then
  fail "nginx/nginx.conf.template" "needs nginx and envsubst (apt-get install nginx-light gettext-base)"
else
  # Debian's nginx 1.22 cannot parse `server NAME resolve` (1.27.3+), so
  # nginx -t runs on the local flavour: the same template, the upstream
  # rendered as a static server list, no resolver. The Compose flavour is
  # checked below for variable coverage only.
  nginx_check() { # $1 = WSK_NGINX_TLS, $2 = WSK_NGINX_TLS_REDIRECT_PORT (both empty: plain HTTP)
    mkdir -p "$WORK/nginx/temp" &&
      env WSK_NGINX_LISTEN=127.0.0.1:18081 WSK_NGINX_TLS="${1:-}" WSK_NGINX_TLS_REDIRECT_PORT="${2:-}" \
        WSK_NGINX_UPSTREAM_SERVERS='server 127.0.1.1:3000; server 127.0.1.2:3000;' \
        WSK_NGINX_RESOLVER='' WSK_NGINX_TEMP_DIR="$WORK/nginx/temp" WSK_NGINX_ACCESS_LOG="$WORK/nginx/access.log" \
        WSK_NGINX_PROXY_TIMEOUT=75s \
        envsubst "$(wsk_vars_in nginx/nginx.conf.template | sed 's/.*/${&}/' | tr '\n' ' ')" \
        <nginx/nginx.conf.template >"$WORK/nginx/nginx.conf" &&
      if grep -n -E '^[^#]*\$\{WSK_[A-Z0-9_]+\}' "$WORK/nginx/nginx.conf"; then echo "unreplaced variables above"; false; fi &&
      nginx -t -q -p "$WORK/nginx" -e stderr -c "$WORK/nginx/nginx.conf" -g "pid $WORK/nginx/nginx.pid;"
  }
  check "nginx -t nginx/nginx.conf.template (local flavour, $(nginx -v 2>&1 | sed 's|.*/||'))" nginx_check
  if [ -n "$tls_pem" ]; then
    check "nginx -t nginx/nginx.conf.template (local flavour + TLS: ssl listen, 308 redirect)" \
      nginx_check "listen 127.0.0.1:18443 ssl; ssl_certificate $tls_pem; ssl_certificate_key $tls_pem;" 18443
  else
    fail "nginx -t nginx/nginx.conf.template (TLS)" "openssl could not make a throwaway certificate (apt-get install openssl)"
  fi
  if [ -f docker-compose.yml ]; then
    missing=""
    for var in $(wsk_vars_in nginx/nginx.conf.template); do
      service_env_keys docker-compose.yml nginx | grep -qx "$var" || missing="$missing $var"
    done
    if [ -z "$missing" ]; then pass "nginx variables all set in docker-compose.yml"; else fail "nginx variables all set in docker-compose.yml" "not set:$missing"; fi
  fi
fi

# --- Compose -------------------------------------------------------------------
if [ ! -f docker-compose.yml ]; then
  skip "docker-compose.yml" "file not there yet"
elif [ ! -f .env.example ]; then
  fail "docker-compose.yml" ".env.example is missing (the documented way to set the required secrets)"
else
  if have docker-compose; then
    check "docker-compose config -q (.env.example, $(docker-compose version --short 2>/dev/null))" \
      docker-compose --project-directory "$ROOT" --env-file .env.example -f docker-compose.yml config -q
    # The secrets have no defaults: without them, Compose must refuse.
    printf '# no secrets\n' >"$WORK/empty.env"
    compose_refuses() {
      local output
      if output=$(env -u REDIS_PASSWORD -u WSK_COOKIE_KEY -u WSK_STATS_PASSWORD -u WSK_GRAFANA_ADMIN_PASSWORD \
        docker-compose --project-directory "$ROOT" --env-file "$WORK/empty.env" -f docker-compose.yml config -q 2>&1); then
        echo "docker-compose accepted the file with no secrets set"
        return 1
      fi
      grep -q 'is not set' <<<"$output" || { echo "$output"; return 1; }
    }
    check "docker-compose refuses to run without the secrets" compose_refuses
    if [ -f docker-compose.tls.yml ]; then
      # The TLS override merges over the default file (a file secret with the PEM).
      check "docker-compose config -q (+ docker-compose.tls.yml)" \
        env WSK_TLS_PEM_FILE="${tls_pem:-$WORK/tls.pem}" docker-compose --project-directory "$ROOT" --env-file .env.example \
        -f docker-compose.yml -f docker-compose.tls.yml config -q
    fi
  else
    fail "docker-compose config" "docker-compose is not installed (apt-get install docker-compose)"
  fi
  if have docker && docker compose version >/dev/null 2>&1; then
    check "docker compose config -q (v$(docker compose version --short 2>/dev/null), profiles nginx, observability)" \
      docker compose --project-directory "$ROOT" --env-file .env.example -f docker-compose.yml --profile nginx --profile observability config -q
  else
    skip "docker compose config (v2)" "the compose v2 plugin is not installed; docker-compose 1.29 checked it"
  fi
  # The Sentinel override needs Compose v2 (1.29 rejects its
  # environment-sourced secret): without v2 this is a FAIL, not a skip.
  if [ -f docker-compose.sentinel.yml ]; then
    sentinel_config() {
      local rendered
      rendered=$(docker compose --project-directory "$ROOT" --env-file .env.example -f docker-compose.yml -f docker-compose.sentinel.yml config 2>&1) ||
        { echo "$rendered"; return 1; }
      # What the override promises: sentinel mode, no password left in the
      # replicas' environment, every node and sentinel authenticated.
      grep -q 'REDIS_MODE: sentinel' <<<"$rendered" || { echo "server is not in sentinel mode"; return 1; }
      grep -q 'REDIS_URL: ""' <<<"$rendered" || { echo "REDIS_URL still set for the replicas (an error in sentinel mode)"; return 1; }
      grep -q 'REDIS_PASSWORD_FILE: /run/secrets/redis_password' <<<"$rendered" || { echo "the replicas do not read the password from the secret"; return 1; }
      [ "$(grep -c 'requirepass' docker-compose.sentinel.yml)" -ge 2 ] || { echo "data nodes and sentinels must both requirepass"; return 1; }
      if env -u REDIS_PASSWORD docker compose --project-directory "$ROOT" --env-file "$WORK/empty.env" \
        -f docker-compose.yml -f docker-compose.sentinel.yml config -q >/dev/null 2>&1; then
        echo "the Sentinel variant accepted no REDIS_PASSWORD"
        return 1
      fi
    }
    if have docker && docker compose version >/dev/null 2>&1; then
      printf '# no secrets\n' >"$WORK/empty.env"
      check "docker compose config docker-compose.sentinel.yml (sentinel mode, password as a secret, refused without it)" sentinel_config
    else
      fail "docker-compose.sentinel.yml" "Compose v2 (docker compose) is not installed: bash scripts/docker-engine.sh install"
    fi
  fi
fi

# --- Swarm stack ---------------------------------------------------------------
if [ ! -f stack/docker-stack.yml ]; then
  skip "stack/docker-stack.yml" "file not there yet"
elif ! have docker; then
  fail "stack/docker-stack.yml" "the docker CLI is not installed (docker stack config needs no engine)"
else
  check "docker stack config -c stack/docker-stack.yml" \
    env WSK_SERVER_IMAGE=registry.example.com/wsk-server:check docker stack config -c stack/docker-stack.yml
  # Secrets must be external (created with `docker secret create`), never a
  # `file:` in the repository.
  stack_secrets_external() {
    awk '
      /^[^ #]/ { in_secrets = ($0 ~ /^secrets:/) }
      in_secrets && /^  [A-Za-z0-9_-]+:/ { if (name != "" && !ext) bad = bad " " name; name = $1; ext = 0 }
      in_secrets && /^    external: *true/ { ext = 1 }
      END { if (name != "" && !ext) bad = bad " " name; if (bad != "") { print "not external:" bad; exit 1 } if (name == "") { print "no secrets section"; exit 1 } }
    ' stack/docker-stack.yml
  }
  check "stack secrets are all external" stack_secrets_external
  if [ -f stack/docker-stack.tls.yml ]; then
    # The TLS file merges over the stack: the PEM is an external Docker secret.
    check "docker stack config -c stack/docker-stack.yml -c stack/docker-stack.tls.yml" \
      env WSK_SERVER_IMAGE=registry.example.com/wsk-server:check docker stack config -c stack/docker-stack.yml -c stack/docker-stack.tls.yml
  fi
  if [ -f stack/docker-stack.sentinel.yml ]; then
    # The Sentinel variant merges over the stack (deployed with WSK_REDIS_URL
    # set and empty). What it promises: sentinel mode, REDIS_URL empty, no
    # new secret (the same external redis_password), every node and sentinel
    # authenticated, resolver options that keep a sentinel out of TILT.
    stack_sentinel_config() {
      local rendered
      rendered=$(WSK_REDIS_URL='' WSK_SERVER_IMAGE=registry.example.com/wsk-server:check \
        docker stack config -c stack/docker-stack.yml -c stack/docker-stack.sentinel.yml 2>&1) ||
        { printf '%s\n' "$rendered"; return 1; }
      grep -q 'REDIS_MODE: sentinel' <<<"$rendered" || { echo "server is not in sentinel mode"; return 1; }
      grep -q 'REDIS_URL: ""' <<<"$rendered" || { echo "REDIS_URL still set for the replicas with WSK_REDIS_URL= (an error in sentinel mode)"; return 1; }
      local services
      services=$(awk '/^services:/ { s = 1; next } /^[^ ]/ { s = 0 } s && /^  [a-z0-9-]+:$/ { sub(":", "", $1); print $1 }' <<<"$rendered" | sort | tr '\n' ' ')
      [ "$services" = "haproxy redis redis-replica-1 redis-replica-2 sentinel-1 sentinel-2 sentinel-3 server " ] ||
        { echo "services: $services"; return 1; }
      [ "$(grep -c 'requirepass' stack/docker-stack.sentinel.yml)" -ge 2 ] || { echo "data nodes and sentinels must both requirepass"; return 1; }
      [ "$(grep -c "options timeout:1 attempts:1" <<<"$rendered")" -eq 6 ] || { echo "every data node and sentinel must shorten its resolver timeout (TILT)"; return 1; }
      if grep -qE '^secrets:' stack/docker-stack.sentinel.yml; then echo "the Sentinel variant must reuse the stack's external secrets, not declare its own"; return 1; fi
    }
    check "docker stack config -c stack/docker-stack.yml -c stack/docker-stack.sentinel.yml (sentinel mode, REDIS_URL empty, 3 nodes + 3 sentinels)" stack_sentinel_config
  fi
  # Two lines Swarm stickiness depends on, which no schema checks: HAProxy
  # must resolve `tasks.server` (the plain name is one VIP), and published
  # ports must bypass the ingress mesh (`mode: host`).
  stack_stickiness() {
    local problems=""
    grep -qE '^ +WSK_SERVICE_NAME: *"?tasks\.server"?$' stack/docker-stack.yml ||
      problems="$problems\nhaproxy's WSK_SERVICE_NAME is not tasks.server"
    local ingress
    ingress=$(awk '
      /^    ports:/ { in_ports = 1; next }
      in_ports && /^    [^ ]/ { in_ports = 0 }
      in_ports && /^      - / { if (item != "" && !host) bad++; item = $0; host = 0 }
      in_ports && /mode: *host/ { host = 1 }
      in_ports == 0 && item != "" { if (!host) bad++; item = "" }
      END { if (item != "" && !host) bad++; print bad + 0 }
    ' stack/docker-stack.yml)
    [ "$ingress" = 0 ] || problems="$problems\n$ingress published port(s) without mode: host"
    if [ -n "$problems" ]; then printf '%b\n' "${problems#\\n}"; return 1; fi
  }
  check "stack: HAProxy resolves tasks.server, ports in host mode" stack_stickiness
fi

# --- What must not be reachable from outside -----------------------------------
# Redis and the HAProxy stats listener stay on the Docker network (no
# published port), Redis demands a password, and the stats page basic auth.
# `service published_port` lines of one file: short (`- "8080:8080"`) and
# long (`target: 8080`) syntax.
published_ports() {
  awk '
    /^[^ #]/ { in_services = ($0 ~ /^services:/) }
    in_services && /^  [A-Za-z0-9_-]+:/ { svc = $1; sub(":", "", svc); in_ports = 0 }
    in_services && /^    ports:/ { in_ports = 1; next }
    in_services && in_ports && /^    [^ ]/ { in_ports = 0 }
    in_services && in_ports && /^      - *"?[^ t]/ { p = $0; sub(/^      - */, "", p); gsub(/"/, "", p); n = split(p, parts, ":"); print svc, parts[n] }
    in_services && in_ports && /^ +(- +)?target:/ { p = $0; sub(/.*target: */, "", p); gsub(/"/, "", p); print svc, p }
  ' "$1"
}
not_exposed() {
  local problems="" file ports
  for file in docker-compose.yml docker-compose.sentinel.yml stack/docker-stack.yml stack/docker-stack.sentinel.yml; do
    [ -f "$file" ] || continue
    ports=$(published_ports "$file")
    if grep -q '^redis ' <<<"$ports"; then problems="$problems\n$file: redis publishes a port"; fi
    if grep -qE '^haproxy 8404(/tcp)?$' <<<"$ports"; then problems="$problems\n$file: the HAProxy stats port 8404 is published"; fi
    grep -q 'requirepass' "$file" || problems="$problems\n$file: redis runs without requirepass"
  done
  grep -qE '^[[:space:]]*http-request auth realm [^ ]+ unless \{ http_auth\(stats_users\) \}' haproxy/haproxy.cfg ||
    problems="$problems\nhaproxy/haproxy.cfg: the stats frontend does not demand basic auth"
  if [ -n "$problems" ]; then printf '%b\n' "${problems#\\n}"; return 1; fi
}
if [ -f haproxy/haproxy.cfg ] && { [ -f docker-compose.yml ] || [ -f stack/docker-stack.yml ]; }; then
  check "not exposed: Redis and HAProxy stats unpublished, Redis password, stats basic auth" not_exposed
else
  skip "not exposed" "haproxy.cfg or the Docker files not there yet"
fi

# --- Dockerfile ----------------------------------------------------------------
if [ ! -f Dockerfile ]; then
  skip "Dockerfile" "file not there yet"
else
  dockerfile_rules() {
    local problems=""
    # Every FROM (or the ARG it uses) names an exact version: x.y.z.
    while read -r image; do
      case "$image" in
        \$\{*\}) image=$(sed -n "s/^ARG ${image:2:-1}=//p" Dockerfile | head -1) ;;
      esac
      [[ "$image" =~ :[0-9]+\.[0-9]+\.[0-9]+ ]] || problems="$problems\nbase image not pinned to x.y.z: $image"
    done < <(awk 'toupper($1) == "FROM" { print $2 }' Dockerfile | grep -v -x -f <(awk 'toupper($1) == "FROM" && toupper($3) == "AS" { print $4 }' Dockerfile) )
    local user
    user=$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' Dockerfile)
    case "$user" in "" | root | 0 | 0:*) problems="$problems\nfinal USER is '${user:-root}': run as non-root" ;; esac
    grep -qi '^HEALTHCHECK ' Dockerfile || problems="$problems\nno HEALTHCHECK"
    grep -qiE '^ENTRYPOINT .*tini' Dockerfile || problems="$problems\nno init process (tini) as ENTRYPOINT"
    grep -qiE '^EXPOSE +3000' Dockerfile || problems="$problems\nno EXPOSE 3000"
    if [ -n "$problems" ]; then printf '%b\n' "${problems#\\n}"; return 1; fi
  }
  check "Dockerfile: pinned base, non-root, HEALTHCHECK, tini" dockerfile_rules
fi

# --- The image's build ---------------------------------------------------------
if [ ! -f tsconfig.build.json ]; then
  skip "tsconfig.build.json" "file not there yet"
elif [ ! -f server/main.ts ]; then
  skip "tsconfig.build.json emits dist/server/main.js" "server/main.ts not there yet"
elif [ ! -x node_modules/.bin/tsc ]; then
  fail "tsconfig.build.json" "node_modules/.bin/tsc missing (npm ci)"
else
  # The Dockerfile copies only server/ into the build stage and runs
  # dist/server/main.js: the build must emit it and nothing outside server/.
  build_emits() {
    node_modules/.bin/tsc -p tsconfig.build.json --outDir "$WORK/dist" || return 1
    [ -f "$WORK/dist/server/main.js" ] || { echo "no server/main.js in the output"; return 1; }
    local outside
    outside=$(cd "$WORK/dist" && find . -name '*.js' -not -path './server/*')
    if [ -n "$outside" ]; then echo "server/ imports files outside server/ (not in the image):"; echo "$outside"; return 1; fi
  }
  check "tsc -p tsconfig.build.json emits dist/server/main.js (server/ only)" build_emits
fi

# --- Kubernetes ----------------------------------------------------------------
# Offline: kubectl's built-in kustomize renders, the pinned kubernetes-models
# validators check the schema, scripts/k8s-check/ the unknown fields and the
# rules (probes, drain vs grace period, selectors, ports, headless Service...).
if [ ! -d k8s/overlays ]; then
  skip "k8s/overlays" "no Kubernetes manifests yet"
elif ! have kubectl; then
  fail "k8s/overlays" "kubectl is not installed (it renders the overlays; see k8s/README.md)"
elif [ ! -d node_modules/kubernetes-models ]; then
  fail "k8s/overlays" "node_modules/kubernetes-models missing (npm ci)"
else
  for overlay in k8s/overlays/*/; do
    overlay=${overlay%/}
    check "kustomize + schema + strict keys + rules: $overlay" node --import tsx scripts/k8s-check/cli.ts "$overlay"
  done
fi

# --- Prometheus ----------------------------------------------------------------
# The alert rules load, and their unit tests (each alert made to fire and to
# stay quiet) pass. promtool comes with Debian's prometheus package.
if [ ! -f prometheus/alerts.yml ]; then
  skip "prometheus/alerts.yml" "file not there yet"
elif ! have promtool; then
  fail "prometheus/alerts.yml" "promtool is not installed (apt-get install prometheus)"
else
  check "promtool check rules prometheus/alerts.yml" promtool check rules prometheus/alerts.yml
  if [ -f prometheus/prometheus.compose.yml ]; then
    check "promtool check config prometheus/prometheus.compose.yml" promtool check config prometheus/prometheus.compose.yml
  fi
  rule_tests=(prometheus/*.test.yml)
  check "promtool test rules ${rule_tests[*]}" promtool test rules "${rule_tests[@]}"
fi

# --- Secrets -------------------------------------------------------------------
if [ -f .env.example ]; then
  secret_hygiene() {
    local problems="" files
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      files=$(git -C "$ROOT" ls-files -co --exclude-standard)
      if git -C "$ROOT" ls-files --error-unmatch .env >/dev/null 2>&1; then problems="$problems\n.env is tracked by git: remove it (git rm --cached .env)"; fi
    else
      files=$(find . -type f -not -path './node_modules/*' -not -path './.git/*' -not -path './dist/*' -not -name '.env' | sed 's|^\./||')
    fi
    # The placeholder values of every secret-like variable in .env.example
    # must appear nowhere else: used anywhere, they would be a known secret.
    while IFS='=' read -r key value; do
      [[ "$key" =~ (PASSWORD|SECRET|KEY|TOKEN)$ ]] || continue
      [ -n "$value" ] || continue
      [[ "$value" == change-me* ]] || problems="$problems\n.env.example: $key should hold a change-me-* placeholder, not a value"
      local hits
      hits=$(printf '%s\n' "$files" | grep -v -x -e '.env.example' -e '.env' | tr '\n' '\0' | xargs -0 -r grep -n -F -- "$value" 2>/dev/null)
      [ -z "$hits" ] || problems="$problems\nplaceholder for $key found outside .env.example:\n$hits"
    done < <(grep -E '^[A-Z0-9_]+=' .env.example)
    # No secret gets a default in the deployable files: `${REDIS_PASSWORD:-x}`
    # would start Redis with a password everyone can read here.
    local defaults
    defaults=$(grep -n -E '\$\{[A-Z0-9_]*(PASSWORD|SECRET|KEY|TOKEN):?-' docker-compose*.yml stack/docker-stack*.yml 2>/dev/null)
    [ -z "$defaults" ] || problems="$problems\nsecret with a default value:\n$defaults"
    if [ -n "$problems" ]; then printf '%b\n' "${problems#\\n}"; return 1; fi
  }
  check "no committed secrets (.env.example placeholders, secret defaults, .env)" secret_hygiene
else
  skip "secret hygiene" ".env.example not there yet"
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "check: ${#failed[@]} failed:"
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
echo "check: all passed"
