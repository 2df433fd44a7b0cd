# sluice — see README.md. Every target is safe to run again.
SHELL := /bin/bash
NODE ?= node
MOCHA := npx --no-install mocha
WORLD := $(NODE) dist/test/world/world.js

.PHONY: all install build binaries test test-unit test-integration test-e2e world-up world-down demo bench up down clean

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.package-lock.json

build: install
	npx --no-install tsc -p tsconfig.json

# Go-built control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok), cached under $${SLUICE_CACHE:-~/.cache/sluice}; rebuilt only when test/world/versions.env changes.
binaries:
	bash test/world/build-binaries.sh >/dev/null

test-unit: build
	$(MOCHA) --config test/.mocharc.unit.json

# Suites that need the local world bring it up, run, and always bring it down again.
test-integration: build binaries
	@$(WORLD) up && { status=0; $(MOCHA) --config test/.mocharc.integration.json || status=$$?; $(WORLD) down; exit $$status; }

test: build binaries
	$(MOCHA) --config test/.mocharc.unit.json
	@$(WORLD) up && { status=0; $(MOCHA) --config test/.mocharc.integration.json || status=$$?; $(WORLD) down; exit $$status; }

world-up: build binaries
	$(WORLD) up

world-down:
	@if [ -f dist/test/world/world.js ]; then $(WORLD) down; fi

demo: build binaries
	@$(WORLD) up && { status=0; $(NODE) dist/test/world/demo.js || status=$$?; $(WORLD) down; exit $$status; }

bench: build binaries
	$(NODE) dist/bench/run.js

clean: world-down
	rm -rf dist .world
