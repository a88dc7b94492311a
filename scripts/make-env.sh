#!/usr/bin/env bash
# `make up` on a first run: write .env from .env.example with every
# change-me-* placeholder replaced by a fresh random secret (hex, as the
# compose file asks). Never overwrites an existing .env; .env is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -e .env ]; then exit 0; fi
umask 077
while IFS= read -r line; do
  if [[ "$line" =~ ^([A-Z0-9_]+)=change-me ]]; then
    printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  else
    printf '%s\n' "$line"
  fi
done <.env.example >.env
echo "make-env: wrote .env with fresh random secrets (mode 600, git-ignored); edit it to change settings" >&2
