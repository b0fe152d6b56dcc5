# pgmi — serverless PostgreSQL deployer. `make help` lists the targets.

GO            ?= go
BIN           := bin

# Build tags of the CLI as it ships (internal/archtest holds every binary's tags and checks this line):
# grpcnotrace drops gRPC's /debug/requests tracing, disable_grpc_modules cloud.google.com/go/storage's
# xDS/envoy imports. Tests build with them too, so the binaries they build (lambdafake.BuildBinary adds
# both) link from the packages go test compiled.
TAGS          := grpcnotrace,disable_grpc_modules
TEST_FLAGS    ?= -count=1 -timeout 20m -tags $(TAGS)
# -p 1: one package's benchmarks at a time (two at once on 2 cores slowed each other's figures).
BENCH_FLAGS   ?= -p 1 -run '^$$' -bench . -benchmem -benchtime 3x -timeout 20m -tags $(TAGS)
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X main.version=$(VERSION)

.PHONY: help build demo test deps bench lint fmt clean package package-aws package-gcp package-azure

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build the pgmi CLI into bin/
	$(GO) build -trimpath -tags $(TAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/pgmi ./cmd/pgmi

deps: ## install what the tests need (PostgreSQL from Debian packages when absent)
	@bash scripts/deps.sh
	$(GO) mod download

demo: deps build ## the upload-triggered deployer on one machine: pgmi local on a folder, signed bundles dropped in, duplicates, routing
	$(GO) run ./internal/tools/demo -pgmi $(BIN)/pgmi

test: deps ## run every test, including integration tests against real PostgreSQL
	$(GO) vet -tags $(TAGS) ./...
	$(GO) test $(TEST_FLAGS) ./...

bench: deps ## benchmarks with ratios against baselines measured in the same run
	$(GO) test $(BENCH_FLAGS) -skip Fleet ./pkg/engine/ ./pkg/bundle/ ./pkg/deploy/ ./functions/aws/
	$(GO) test -run '^$$' -bench Fleet -benchtime 1x -timeout 20m -tags $(TAGS) ./pkg/deploy/
	$(GO) test -run '^$$' -bench BinarySizes -benchtime 1x -timeout 20m ./internal/archtest/

lint: ## go vet and staticcheck (pinned)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output
	rm -rf $(BIN)

# --- Function artifacts for infra/ ------------------------------------------------------------------
# scripts/package.sh builds them reproducibly (static, -trimpath, no build id, fixed zip entry times and
# modes); internal/infratest checks their layout and that two builds are byte-identical.

package: ## build every function artifact into dist/ (aws arm64+amd64, gcp, azure)
	GO=$(GO) bash scripts/package.sh all

package-aws: ## dist/aws/pgmi-aws-arm64.zip and pgmi-aws-amd64.zip (bootstrap only)
	GO=$(GO) bash scripts/package.sh aws arm64 amd64

package-gcp: ## dist/gcp/: the image build context (Dockerfile + static linux/amd64 binary "function")
	GO=$(GO) bash scripts/package.sh gcp

package-azure: ## dist/azure/pgmi-azure.zip (handler, host.json, BlobCreated/, Reset/)
	GO=$(GO) bash scripts/package.sh azure
