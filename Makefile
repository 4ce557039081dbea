# refundrecon — make help lists the targets.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN := bin/refundrecon

.PHONY: help build test test-short lint bench tidy-check fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

# refundrecon version prints these; without them it falls back on the
# module's build information.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

build: ## build bin/refundrecon, stamped with VERSION, COMMIT and DATE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/refundrecon

# go test's default -timeout of 10 minutes per package is a speed
# assumption: on a loaded machine internal/deploycheck's binary builds alone
# exceeded it. Tests wait on conditions, not on the clock; TEST_TIMEOUT only
# bounds a hung package. CI's job allows 90 minutes; an unloaded run takes
# well under 15.
TEST_TIMEOUT ?= 30m

test: ## run every test; finds PostgreSQL or starts a throwaway one
	./scripts/with-postgres.sh $(GO) test -count=1 -race -timeout $(TEST_TIMEOUT) ./...

test-short: ## run the tests that need no database
	$(GO) test -count=1 -short -timeout $(TEST_TIMEOUT) ./...

lint: tidy-check ## gofmt, go vet, staticcheck, go mod tidy
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

tidy-check: ## fail when go mod tidy would change go.mod or go.sum
	@cp go.mod /tmp/refundrecon.go.mod.bak; cp go.sum /tmp/refundrecon.go.sum.bak
	@$(GO) mod tidy
	@if ! cmp -s go.mod /tmp/refundrecon.go.mod.bak || ! cmp -s go.sum /tmp/refundrecon.go.sum.bak; then \
		cp /tmp/refundrecon.go.mod.bak go.mod; cp /tmp/refundrecon.go.sum.bak go.sum; \
		echo "go mod tidy changes go.mod or go.sum: run it and commit"; exit 1; fi

# make bench SIZES=10000,100000,1000000 adds the million; RPS= skips the
# rate-limited runs; SYNC_SIZES=100000,1000000 the incremental sync's runs.
# See docs/performance.md.
SIZES ?= 10000,100000
RPS ?= 25,100
SYNC_SIZES ?= 100000
BENCH_FLAGS ?=
bench: ## end-to-end run and its peers per size (SIZES, RPS), then matcher+classifier on one core
	$(GO) build -o bin/refundrecon-bench ./cmd/refundrecon-bench
	./scripts/with-postgres.sh ./bin/refundrecon-bench -sizes '$(SIZES)' -rps '$(RPS)' -sync-sizes '$(SYNC_SIZES)' $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./reconcile/

FUZZTIME ?= 5s
fuzz: ## run every fuzz test of the module (found by name, so none is forgotten) for FUZZTIME (default 5s)
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz $$name in $$dir"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$dir/; \
		done; \
	done

# deploy/: the image's build steps without Docker, and the offline checks of
# the manifests and units (internal/deploycheck).
DOCKER_STAGE ?= bin/docker
DOCKER_ROOT := $(abspath $(DOCKER_STAGE))
.PHONY: docker-steps deploy-check

docker-steps: ## deploy/Dockerfile's build steps without Docker: bin/docker/out/refundrecon
	@case "$(DOCKER_ROOT)" in ""|/) echo "DOCKER_STAGE must name a directory of its own"; exit 1;; esac
	rm -rf $(DOCKER_ROOT)/src $(DOCKER_ROOT)/out
	mkdir -p $(DOCKER_ROOT)/src $(DOCKER_ROOT)/out
# COPY go.mod go.sum ./
	cp go.mod go.sum $(DOCKER_ROOT)/src/
	cd $(DOCKER_ROOT)/src && $(GO) mod download
# COPY . . : what git sees (.gitignore), less deploy/ and .ci/ as in deploy/Dockerfile.dockerignore
	git ls-files -z --cached --others --exclude-standard -- . ':(exclude).ci' ':(exclude)deploy' \
		| tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(DOCKER_ROOT)/src
	cd $(DOCKER_ROOT)/src && TARGETOS=$$($(GO) env GOOS) && TARGETARCH=$$($(GO) env GOARCH) && CGO_ENABLED=0 GOOS=$$TARGETOS GOARCH=$$TARGETARCH $(GO) build -trimpath -ldflags="-s -w" -o $(DOCKER_ROOT)/out/refundrecon ./cmd/refundrecon
	cd $(DOCKER_ROOT)/src && mkdir -p $(DOCKER_ROOT)/out/data

deploy-check: ## validate deploy/ offline: kustomize, compose, systemd units, Dockerfile, static binary, promtool rules
	$(GO) test -count=1 -v -timeout $(TEST_TIMEOUT) ./internal/deploycheck/
