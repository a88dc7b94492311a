#!/usr/bin/env bash
# Install what the local topology, the tests and `make check` need on a
# Debian/Ubuntu machine: npm packages from the lockfile, and the system
# packages when missing. Idempotent; fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v docker >/dev/null || need+=(docker.io)
# promtool (make check: the alert rules) and the prometheus binary (the
# prometheus scenario) both come from Debian's prometheus package.
command -v promtool >/dev/null || need+=(prometheus)
# --tls makes a throwaway CA per run; `make check` a throwaway certificate.
command -v openssl >/dev/null || need+=(openssl)
# test/browser.test.ts drives Debian's Chromium (no browser download); it
# fails, rather than skips, without it. WSK_BROWSER_TESTS=0 skips installing it.
if [ "${WSK_BROWSER_TESTS:-1}" = 1 ]; then
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need+=(chromium)
fi

# `make check` renders k8s/overlays with kubectl's built-in kustomize (5.x,
# kubectl >= 1.27). Debian's kubernetes-client is 1.20 - too old for the
# `labels` field - so it is not installed here: install kubectl from the
# Kubernetes project's packages. check.sh fails while it is missing.
command -v kubectl >/dev/null || echo "setup: kubectl (>= 1.27) is missing: make check will fail on k8s/ (see k8s/README.md)" >&2

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need[*]}" >&2
    echo "setup: install them first, e.g.: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

# Debian starts services when it installs them where it can; this project runs
# its own instances on free ports, so a stray default nginx/haproxy is harmless
# but we do not rely on it either way.

# `make check` validates docker-compose.sentinel.yml with Compose v2 (its
# environment-sourced secret is newer than Debian bookworm's docker-compose
# 1.29). The v2 plugin comes from the engine script, which unpacks Debian
# trixie's package without touching apt sources.
if ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    bash scripts/docker-engine.sh install
  else
    echo "setup: Compose v2 (docker compose) is missing: make check will fail on docker-compose.sentinel.yml (sudo bash scripts/docker-engine.sh install)" >&2
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Artillery (`make load`, load/artillery.smoke.test.ts) lives in its own
# load/package.json: ~670 packages the project never loads. --ignore-scripts:
# nothing in it needs an install script (one would download a Chromium for
# Artillery's Playwright engine, which we do not use).
if [ ! -d load/node_modules ] || [ load/package-lock.json -nt load/node_modules/.package-lock.json ]; then
  echo "setup: npm ci --prefix load (Artillery)"
  npm ci --prefix load --ignore-scripts --no-audit --no-fund --loglevel=error
fi
