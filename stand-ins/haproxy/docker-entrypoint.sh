#!/bin/sh
# As the official haproxy image's entrypoint: a first argument that is a flag
# means haproxy; `haproxy` gets -W (master-worker: reload with SIGUSR2) and
# -db (stay in the foreground, log to stderr).
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
if [ "$1" = 'haproxy' ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
