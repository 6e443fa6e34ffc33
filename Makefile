# cognitokit: everything a developer or CI runs. Only Go needs to be installed; every
# tool below is fetched through the Go module proxy at a pinned version.

GO              ?= go
STATICCHECK     := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHSTAT       := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_COUNT     ?= 6
BENCH_TIME      ?= 1s
# How long `make fuzz` runs each fuzz target.
FUZZTIME        ?= 60s
# Where `make interop` installs the npm packages pinned in interop/package-lock.json.
INTEROP_DIR     ?= $(or $(TMPDIR),/tmp)/cognitokit-interop

# bench-peers: runs per benchmark, and seconds per run of the Node runner
PEERS_COUNT     ?= 6
PEERS_TIME      ?= 1s
NODE_SECONDS    ?= 1
# load: seconds of load per phase (with the policy middleware, then without)
LOAD_DURATION   ?= 30s

.PHONY: all generate build test lint check-generated bench bench-peers load load-proxy load-gateways demo demo-proxy clean corpus interop fuzz \
	build-boring test-boring bench-boring

# BoringCrypto builds: crypto/rsa (and the rest of crypto/*) runs BoringSSL's code, linked
# in through cgo; linux/amd64 and linux/arm64 only, and a C compiler is needed.
BORING_ENV      := CGO_ENABLED=1 GOEXPERIMENT=boringcrypto
# Where `make build-boring` writes its binaries.
BIN_DIR         ?= bin
# Prints why BoringCrypto cannot be built here, or nothing when it can.
BORING_UNAVAILABLE = platform=$$($(GO) env GOOS)/$$($(GO) env GOARCH); cc=$$($(GO) env CC); \
	if [ "$$platform" != linux/amd64 ] && [ "$$platform" != linux/arm64 ]; then \
		echo "BoringCrypto builds exist for linux/amd64 and linux/arm64 only (this is $$platform)"; \
	elif ! command -v "$${cc%% *}" >/dev/null 2>&1; then \
		echo "BoringCrypto needs cgo and a C compiler; '$$cc' is not installed"; fi

all: check-generated lint test

## generate: regenerate gen/ from api/openapi.yaml with the pinned oapi-codegen
generate:
	$(GO) generate ./...

## build: compile every package and the CLI
build:
	$(GO) build ./...

## build-boring: the CLI and the example service built with BoringCrypto, into BIN_DIR
build-boring:
	@why=$$($(BORING_UNAVAILABLE)); if [ -n "$$why" ]; then echo "make build-boring: $$why"; exit 1; fi
	$(BORING_ENV) $(GO) build -o $(BIN_DIR)/cognitokit ./cmd/cognitokit
	$(BORING_ENV) $(GO) build -o $(BIN_DIR)/orders ./examples/orders/cmd/orders
	@$(GO) version -m $(BIN_DIR)/cognitokit | grep -q 'GOEXPERIMENT=boringcrypto' && echo "$(BIN_DIR)/cognitokit and $(BIN_DIR)/orders: BoringCrypto"

## test-boring: under BoringCrypto, the CLI and the example service build, pkg/cognito's
## and pkg/policy's tests and the token corpus pass, and the fuzz targets FuzzRS256 (RS256
## against a math/big reference) and FuzzVerify run for FUZZTIME each; a check that the
## build really is BoringCrypto; skips with a message where it cannot be built
test-boring:
	@why=$$($(BORING_UNAVAILABLE)); if [ -n "$$why" ]; then echo "make test-boring: SKIPPED: $$why"; exit 0; fi; \
	set -e; \
	$(BORING_ENV) $(GO) build ./cmd/cognitokit ./examples/orders/cmd/orders; \
	enabled=$$($(BORING_ENV) $(GO) test -count=1 -v -run '^TestBoringCryptoEnabled$$' ./internal/corpus/ 2>&1) || true; \
	echo "$$enabled"; \
	case "$$enabled" in *"--- PASS: TestBoringCryptoEnabled"*) ;; \
		*) echo "make test-boring: the build is not BoringCrypto"; exit 1;; esac; \
	$(BORING_ENV) $(GO) test -count=1 ./pkg/cognito/ ./pkg/policy/ ./internal/corpus/; \
	$(BORING_ENV) $(GO) test -run='^$$' -fuzz='^FuzzRS256$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/cognito; \
	$(BORING_ENV) $(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/cognito

## bench-boring: BenchmarkVerify* of pkg/cognito in the default build, under BoringCrypto
## and with GODEBUG=fips140=on (Go's FIPS 140-3 mode), in alternating rounds; benchstat
bench-boring:
	@why=$$($(BORING_UNAVAILABLE)); if [ -n "$$why" ]; then echo "make bench-boring: $$why"; exit 1; fi; \
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) test -c -o $$tmp/default.test ./pkg/cognito; \
	$(BORING_ENV) $(GO) test -c -o $$tmp/boring.test ./pkg/cognito; \
	: >bench-default.out; : >bench-boring.out; : >bench-fips.out; \
	for round in $$(seq $(BENCH_COUNT)); do \
		echo "== round $$round of $(BENCH_COUNT)"; \
		(cd pkg/cognito && $$tmp/default.test -test.run='^$$' -test.bench='^BenchmarkVerify' -test.benchmem -test.benchtime=$(BENCH_TIME)) | tee -a bench-default.out; \
		(cd pkg/cognito && $$tmp/boring.test -test.run='^$$' -test.bench='^BenchmarkVerify' -test.benchmem -test.benchtime=$(BENCH_TIME)) | tee -a bench-boring.out; \
		(cd pkg/cognito && GODEBUG=fips140=on $$tmp/default.test -test.run='^$$' -test.bench='^BenchmarkVerify' -test.benchmem -test.benchtime=$(BENCH_TIME)) | tee -a bench-fips.out; \
	done; \
	$(GO) run $(BENCHSTAT) default=bench-default.out boringcrypto=bench-boring.out fips140=bench-fips.out

## test: every test of every package, with the race detector
test:
	$(GO) test -race -count=1 ./...

## lint: go vet, gofmt and staticcheck
lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

## check-generated: fail when `go generate` would change gen/
check-generated:
	$(GO) generate ./...
	@if [ -n "$$(git status --porcelain -- gen api)" ]; then \
		echo "go generate changed gen/; run 'make generate' and commit the result:"; \
		git status --porcelain -- gen api; git diff --stat -- gen; exit 1; fi

## bench: the in-repo benchmarks, summarised with benchstat
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=$(BENCH_COUNT) -benchtime=$(BENCH_TIME) ./pkg/... | tee bench.out
	$(GO) run $(BENCHSTAT) bench.out

## corpus: regenerate the adversarial token corpus testdata/corpus (deterministic: keys
## and signatures derive from a fixed seed); internal/corpusgen's test fails when stale
corpus:
	$(GO) run ./internal/corpusgen -out testdata/corpus

## interop: the corpus through aws-jwt-verify, and round trips with oauth2-mock-server and
## oidc-provider; needs node (20 or later) and npm, skips with a message without them
interop:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
		echo "make interop: SKIPPED: node and npm are not installed (Node.js 20 or later is needed)"; exit 0; fi; \
	if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then \
		echo "make interop: SKIPPED: node $$(node --version) is older than 20"; exit 0; fi; \
	set -e; \
	mkdir -p "$(INTEROP_DIR)"; \
	cp interop/package.json interop/package-lock.json "$(INTEROP_DIR)/"; \
	echo "== npm ci in $(INTEROP_DIR) (node $$(node --version))"; \
	(cd "$(INTEROP_DIR)" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false); \
	$(GO) vet -tags interop ./internal/interop/; \
	INTEROP_DIR="$(INTEROP_DIR)" $(GO) test -tags interop -race -count=1 -v ./internal/interop/

## fuzz: run each fuzz target for FUZZTIME (default 60s): Verify, RS256 against a math/big
## reference, the token-response decoder, the policy loader, the Authorization header parser,
## routing parity and the forward-auth endpoints of `cognitokit serve`
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/cognito
	$(GO) test -run='^$$' -fuzz='^FuzzRS256$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/cognito
	$(GO) test -run='^$$' -fuzz='^FuzzTokenAnswer$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/cognito
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/policy
	$(GO) test -run='^$$' -fuzz='^FuzzBearerToken$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/policy
	$(GO) test -run='^$$' -fuzz='^FuzzRoutingParity$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./pkg/policy
	$(GO) test -run='^$$' -fuzz='^FuzzEndpoints$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./internal/forwardauth
## bench-peers: cognitokit side by side with go-oidc, keyfunc+golang-jwt, jwx and (when node
## and npm are installed) aws-jwt-verify, on one token corpus; one table in bench/results.md.
## bench/ is its own module: `make test` and `make bench` never enter it.
bench-peers:
	GO=$(GO) PEERS_COUNT=$(PEERS_COUNT) PEERS_TIME=$(PEERS_TIME) NODE_SECONDS=$(NODE_SECONDS) bench/peers.sh

## load: the example service stack on loopback under the repeated-token mix, with and
## without the policy middleware (LOAD_DURATION per phase)
load:
	cd bench && $(GO) run ./cmd/load -duration=$(LOAD_DURATION) -routes=../examples/orders/routes.yaml

## load-proxy: `cognitokit serve` alone, nginx alone and nginx + auth_request asking serve,
## on loopback under the same mix (LOAD_DURATION per phase); needs nginx
load-proxy:
	cd bench && $(GO) run ./cmd/load -proxy nginx -duration=$(LOAD_DURATION) -routes=../examples/orders/routes.yaml

## load-gateways: nginx alone, and nginx + auth_request asking a Go server that allows
## everything unseen, `cognitokit serve`, oauth2-proxy and Ory Oathkeeper in turns, on ID
## tokens (LOAD_DURATION per phase); the peers are built at the versions bench/gateways pins
load-gateways:
	cd bench && $(GO) run ./cmd/load -gateways gateways -duration=$(LOAD_DURATION)

## demo: the SDK end to end against the embedded local Cognito
demo:
	$(GO) run ./cmd/cognitokit demo

## demo-proxy: the demo's table through real nginx asking `cognitokit serve` (PROXY=caddy
## for Caddy); says SKIPPED when the proxy is not installed
PROXY ?= nginx
demo-proxy:
	@if ! command -v $(PROXY) >/dev/null 2>&1; then echo "SKIPPED: $(PROXY) is not installed"; exit 0; fi; \
	$(GO) run ./cmd/cognitokit demo --proxy $(PROXY)

clean:
	rm -f bench.out bench-default.out bench-boring.out bench-fips.out bench/peers.out bench/node.out bench/results.md
	rm -rf $(BIN_DIR)
