#!/bin/sh
# As the official node image's entrypoint: `docker run IMAGE -e 'code'` or
# `docker run IMAGE script.js` runs node; any other command runs as given.
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
