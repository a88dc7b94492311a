# The wsk replica image: the Socket.IO server compiled to JavaScript, run by
# Node 20 as the unprivileged `node` user under tini.
#
#   docker build -t wsk-server:local .
#   docker run --rm -e REDIS_URL=redis://:PASSWORD@redis:6379 wsk-server:local
#
# Three stages so the final image holds neither the TypeScript compiler nor
# any other devDependency: `deps` installs everything from the lockfile,
# `build` compiles server/ to dist/, `runtime` installs production
# dependencies only and copies the compiled output in.

# One pinned base for every stage (a full version, not `20` or `lts`): a
# rebuild months later gets the same Node and the same Debian. Bump on purpose.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` installs exactly the lockfile (and fails if it disagrees with
# package.json). No BuildKit-only syntax (cache mounts) anywhere: the image
# must also build with the classic builder (e.g. Debian's docker-compose 1.29).
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY server ./server
# tsconfig.build.json emits server/ (and what it imports) into dist/, with the
# `.ts` import specifiers rewritten to `.js` (rewriteRelativeImportExtensions).
RUN npx tsc -p tsconfig.build.json

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: Node does not reap zombies and, as PID 1, gets no default
# signal handlers; tini forwards SIGTERM/SIGINT to node so the replica's
# graceful drain runs on `docker stop` / a Swarm rolling update.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
COPY package.json package-lock.json ./
# Production dependencies only; --ignore-scripts because nothing in the
# runtime tree needs an install script and it keeps builds reproducible.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# The demo page's static files (served at /) sit next to the compiled static-routes.js.
COPY --from=build /app/server/public ./dist/server/public
# Never root at run time (the base image ships the `node` user, uid 1000).
# Files stay owned by root, so the process cannot rewrite its own code.
USER node
EXPOSE 3000
# Liveness only (/healthz): readiness (/readyz: Redis connected, not
# draining) is the proxy's business. Were the container health tied to
# Redis, a Redis outage would make Swarm restart every replica at once.
# The slim image has no curl; Node 20's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server/main.js"]
