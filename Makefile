# sluice — see README.md. Every target is safe to run again.
SHELL := /bin/bash
NODE ?= node
MOCHA := npx --no-install mocha
WORLD := $(NODE) dist/test/world/world.js

PREFIX ?= $(HOME)/.local/bin

.PHONY: plugin all install build lint format docs binaries test test-unit test-integration test-e2e world-up world-down up down demo bench bench-scale bench-attack bench-cold bench-judge bench-dashboard bench-gateway mutation fault clear-fault clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json

build: install
	npx --no-install tsc -p tsconfig.json
	npx --no-install tsc -p dashboard/ui/tsconfig.json
	$(NODE) scripts/build-ui.mjs

# Biome checks formatting and lint rules (biome.json); the layer check fails on an import that
# points up the layers or a contract string spelled outside api/ (docs/architecture.md).
lint: build
	npx --no-install biome ci --colors=off .
	$(NODE) dist/test/tools/check-layers.js .
	$(NODE) dist/test/tools/phase-table.js

# kubectl sluice (docs/operating.md): installs the plugin as $(PREFIX)/kubectl-sluice.
plugin: build
	sh scripts/install-kubectl-plugin.sh $(PREFIX)

format: install
	npx --no-install biome check --write .

# docs/controller.md's phase table, generated from api/phases.ts.
docs: build
	$(NODE) dist/test/tools/phase-table.js --write

# Go-built control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok), cached under $${SLUICE_CACHE:-~/.cache/sluice}; rebuilt only when test/world/versions.env changes.
binaries:
	bash test/world/build-binaries.sh >/dev/null

test-unit: lint
	$(MOCHA) --config test/.mocharc.unit.json

# Suites that need the local world bring it up, run, and always bring it down again.
test-integration: build binaries
	@$(WORLD) up && { status=0; $(MOCHA) --config test/.mocharc.integration.json || status=$$?; $(WORLD) down; exit $$status; }

# Mocha's report is kept in .world/mocha.out; on a failure the failing tests are printed again
# after the components' log tails, so the last lines of a CI log name what failed.
test: lint binaries
	$(MOCHA) --config test/.mocharc.unit.json
	@set -o pipefail; $(WORLD) up && { status=0; \
	  $(MOCHA) --config test/.mocharc.integration.json 2>&1 | tee .world/mocha.out || status=$$?; \
	  if [ $$status -eq 0 ]; then $(MOCHA) --config test/.mocharc.e2e.json 2>&1 | tee .world/mocha.out || status=$$?; fi; \
	  if [ $$status -ne 0 ]; then echo "logs of every component: .world/logs/"; tail -n 5 .world/logs/*.log; \
	    echo; echo "what failed (whole report: .world/mocha.out):"; sed -n '/^ *[0-9][0-9]* failing/,$$p' .world/mocha.out | head -n 60; fi; \
	  $(WORLD) down; exit $$status; }

test-e2e: build binaries
	@$(WORLD) up && { status=0; $(MOCHA) --config test/.mocharc.e2e.json || status=$$?; $(WORLD) down; exit $$status; }

world-up: build binaries
	$(WORLD) up

world-down:
	@if [ -f dist/test/world/world.js ]; then $(WORLD) down; fi

# The world plus sluice (webhook and controller) as local processes.
up: world-up
	$(NODE) dist/test/world/sluice.js up

down: world-down

# Fault injection in the traffic simulator: make fault SVC=test/podinfo-canary ERRORS=0.5 LATENCY=0
fault:
	$(NODE) dist/test/world/simulator/ctl.js fault $(SVC) --errors $(or $(ERRORS),0) --latency $(or $(LATENCY),0)

clear-fault:
	$(NODE) dist/test/world/simulator/ctl.js clear $(SVC)

demo: build binaries
	@$(WORLD) up && { status=0; $(NODE) dist/test/world/demo.js || status=$$?; $(WORLD) down; exit $$status; }

bench: build binaries
	$(NODE) dist/bench/run.js

# About 25 minutes: rebuilds the world's binaries with an empty Go build cache.
# 1,000 Canaries in 100 namespaces and a wave of 100 rollouts, measured three times on one world
# (SLUICE_SCALE_RUNS; about 50 minutes: 52 for the recorded run, build included, with the floor beside each run; bench/scale-bench.ts, docs/scale.md).
bench-scale: build binaries
	$(NODE) dist/bench/run.js scale

# Admissions while attacker processes hold thousands of connections to the webhook's ports (about 8 minutes).
# The statistical judge on seeded samples: false alarms, power, warm-up, time (bench/judge-bench.ts; no world).
bench-judge: build
	$(NODE) dist/bench/run.js judge

# The dashboard in a real Chromium with 1,000 Canaries: page size, load, status-to-screen, memory (bench/dashboard-bench.ts).
bench-dashboard: build binaries
	$(NODE) dist/bench/run.js dashboard

# How long Traefik, the real gateway, takes to serve an HTTPRoute weight after it is written (bench/gateway-propagation.ts).
bench-gateway: build binaries
	$(NODE) dist/bench/run.js gateway

bench-attack: build binaries
	$(NODE) dist/bench/run.js attack

# Mutation testing of the safety core (docs/testing.md): StrykerJS from tools/mutation, with its own
# lockfile (Stryker 9 is the last line that runs on Node 20, and its mocha runner wants mocha < 12).
# Every run is a full run (docs/testing.md says why incremental mode is off). Not part of
# make test. Writes reports/mutation/, bench/MUTATION.md and the score in bench/RESULTS.md.
tools/mutation/node_modules/.package-lock.json: tools/mutation/package.json tools/mutation/package-lock.json
	cd tools/mutation && npm ci --no-audit --no-fund
	@touch $@

mutation: build tools/mutation/node_modules/.package-lock.json
	# A tenth of each property test's generated inputs per mutant (test/unit/runs.ts).
	SLUICE_RUNS_SCALE=0.1 tools/mutation/node_modules/.bin/stryker run tools/mutation/stryker.config.json
	$(NODE) dist/bench/mutation-score.js

bench-cold:
	$(NODE) dist/bench/run.js cold-build

clean: world-down
	rm -rf dist .world
