# pixelgw — see README.md. `make` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO      ?= go
CONFIG  ?= configs/demo.yaml
PKGS    ?= ./...
BIN     ?= bin/pixelgw

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: run
run: build ## run the gateway in embedded mode with the demo tenant (migrates first)
	$(BIN) migrate -config $(CONFIG)
	$(BIN) seed-demo -config $(CONFIG)
	exec $(BIN) serve -config $(CONFIG)

.PHONY: build
build: ## build the static binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/pixelgw

.PHONY: deps
deps: ## start (or install) what the tests need: PostgreSQL, Redis, Chromium, the browser test's npm packages
	@scripts/services.sh

.PHONY: test
test: deps ## vet + allocation tests (non-race build) + race tests over everything, Postgres and Redis included
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run='Alloc' $(PKGS) | grep -v 'no test'
	$(GO) test -race -shuffle=on -count=1 -timeout=15m $(PKGS)

.PHONY: bench
bench: ## run the Go benchmarks with allocation counts
	$(GO) test -run='^$$' -bench=. -benchmem $(PKGS)

.PHONY: lint
lint: ## gofmt check + vet + dependency-direction check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@scripts/depcheck.sh

.PHONY: docker
docker: ## build the container image (needs a Docker engine)
	docker build -t pixelgw .
