#!/bin/sh
# As the official nginx image's entrypoint: when the command is nginx (or
# nginx-debug), run every executable /docker-entrypoint.d/*.sh first, in
# order (template rendering lives there); any other command runs as given.
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] || continue
    echo "$0: running $script"
    "$script"
  done
  echo "$0: configuration complete; ready for start up"
fi
exec "$@"
