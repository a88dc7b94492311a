# wsk — every step has a target; `make help` lists them.
SHELL := /bin/bash
NODE  := node --import tsx
BIN   := ./node_modules/.bin
REPLICAS ?= 3
CLIENTS  ?= 60
PROXY    ?= haproxy
ADAPTER  ?= redis
N        ?= 3
STACK    ?= wsk
DURATION ?= 30
RATE     ?= 10
TOPOLOGY ?= both
REDIS    ?= standalone
COMPOSE_CLI ?= docker compose
# REDIS=sentinel: the Compose targets add docker-compose.sentinel.yml (Redis
# with Sentinel: three data nodes, three sentinels). Keep the same REDIS for
# up, scale, logs and down of one stack.
COMPOSE  ?= $(COMPOSE_CLI) -f docker-compose.yml$(if $(filter sentinel,$(REDIS)), -f docker-compose.sentinel.yml)
# The private engine `make engine` started, if it runs (else the user's own,
# or none): every Docker target below talks to it without an export.
ENGINE_HOST := $(shell bash scripts/docker-engine.sh status 2>/dev/null | sed -n 's/^export DOCKER_HOST=//p')
ifneq ($(ENGINE_HOST),)
export DOCKER_HOST := $(ENGINE_HOST)
endif
TESTS    := $(shell find server client scenarios test bench scripts load -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)

.DEFAULT_GOAL := help
.PHONY: help setup scenarios bench load test typecheck lint unit check demo up down scale logs deploy undeploy engine engine-stop images docker-scenarios ci

help: ## List every target
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

setup: ## Install npm packages (npm ci) and, when missing, redis-server, haproxy, nginx, docker-compose, prometheus, chromium
	@bash scripts/setup.sh

scenarios: setup ## Run every scenario on the local topology (REPLICAS=3 CLIENTS=60 PROXY=haproxy ADAPTER=redis)
	$(NODE) scenarios/cli.ts --replicas $(REPLICAS) --clients $(CLIENTS) --proxy $(PROXY) --adapter $(ADAPTER) $(ARGS)

bench: setup ## Benchmark: floor, single node, HAProxy/Nginx clusters, adapters, idle capacity (ARGS="--quick", see docs/benchmarks.md)
	$(NODE) bench/cli.ts $(ARGS)

load: setup ## Artillery (load/artillery.yml) against a local stack on loopback: DURATION=30 RATE=10 VU/s, REPLICAS, PROXY; fails if a virtual user lost its replica
	$(NODE) load/cli.ts --replicas $(REPLICAS) --proxy $(PROXY) --duration $(DURATION) --rate $(RATE)

test: setup typecheck lint check unit ## Typecheck, lint, validate deployable files, run every test

typecheck: ## TypeScript, strict
	$(BIN)/tsc -p .

lint: ## Biome
	$(BIN)/biome lint .

unit: ## All tests (unit and integration against real processes)
	$(NODE) --test $(TESTS)

check: ## Validate haproxy.cfg, the nginx template, docker-compose.yml, the Swarm stack, the k8s overlays and the alert rules (promtool) statically
	@bash scripts/check.sh

demo: setup ## Keep a local stack running and print its URLs; open the printed demo URL in a browser (Ctrl-C stops it)
	$(NODE) scenarios/stack-cli.ts up --replicas $(REPLICAS) --proxy $(PROXY) --adapter $(ADAPTER)

docker-scenarios: setup ## Every scenario on a real Docker engine (TOPOLOGY=compose|swarm|both, PROXY=haproxy|nginx|both, REDIS=standalone|sentinel|both); starts a private engine when none answers
	TOPOLOGY=$(TOPOLOGY) PROXY=$(PROXY) REDIS=$(REDIS) ADAPTER=$(ADAPTER) REPLICAS=$(REPLICAS) CLIENTS=$(CLIENTS) ARGS='$(ARGS)' bash scripts/docker-scenarios.sh

ci: ## What CI runs (.ci/run): the Docker suites (Compose with both proxies, Swarm), then make test
	bash .ci/run

engine: ## Start a private Docker engine (root; installs docker.io, Compose v2, debootstrap when missing)
	@bash scripts/docker-engine.sh start >/dev/null && echo "engine: running; make up / deploy use it (or: eval \"\$$(bash scripts/docker-engine.sh status)\")"

engine-stop: ## Stop the private engine and everything it ran (images stay cached)
	@bash scripts/docker-engine.sh stop

images: ## Pull the pinned images, or build stand-ins from Debian packages where no registry answers
	@bash stand-ins/build.sh

up: images .env ## Docker Compose: build and start the stack with N server replicas (REDIS=sentinel: Redis with Sentinel; writes .env with random secrets if missing)
	$(COMPOSE) up -d --build --wait --scale server=$(N)

.env:
	@bash scripts/make-env.sh

down: ## Docker Compose: stop and remove the stack
	$(COMPOSE) --profile nginx --profile observability down -v --remove-orphans

scale: ## Docker Compose: scale the server to N replicas (make scale N=5)
	$(COMPOSE) up -d --wait --no-recreate --scale server=$(N)

logs: ## Docker Compose: follow the logs
	$(COMPOSE) logs -f --tail=100

deploy: ## Docker Swarm: deploy stack/docker-stack.yml as STACK (creates missing secrets; builds the image unless WSK_SERVER_IMAGE; REDIS=sentinel adds stack/docker-stack.sentinel.yml)
	STACK=$(STACK) REDIS=$(REDIS) bash scripts/deploy.sh

undeploy: ## Docker Swarm: remove the stack
	docker stack rm $(STACK)
