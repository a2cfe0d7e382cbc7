# Outrider — build, test and benchmark. `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
BIN       := $(CURDIR)/bin
TOOLS     := $(BIN)/tools
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/outrider-sec/outrider/internal/version.Version=$(VERSION)
# The sidecar is built without gRPC's golang.org/x/net/trace (its /debug/requests pages, which
# nothing serves, and html/template with them): 14.6 → 12.0 MB, and every meshed pod maps the
# whole binary (docs/mesh.md, "The sidecar binary").
PROXY_TAGS := grpcnotrace

CONTROLLER_GEN := $(TOOLS)/controller-gen
STATICCHECK    := $(TOOLS)/staticcheck
CONTROLLER_GEN_VERSION := v0.19.0
STATICCHECK_VERSION    := v0.8.2

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/outrider and bin/outrider-proxy, the mesh sidecar alone (static).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/outrider ./cmd/outrider
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(PROXY_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/outrider-proxy ./cmd/outrider-proxy

$(CONTROLLER_GEN):
	GOBIN=$(TOOLS) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# cosign, for the signature package's interoperability tests (version pinned in hack/tools/cosign).
bin/tools/cosign: hack/tools/cosign/go.mod hack/tools/cosign/go.sum
	cd hack/tools/cosign && CGO_ENABLED=0 $(GO) build -trimpath -o $(TOOLS)/cosign github.com/sigstore/cosign/v2/cmd/cosign

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code and the CRDs from api/v1alpha1.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=deploy/charts/outrider/crds

.PHONY: proto
proto: ## Regenerate the gRPC code (api/proto → internal/identity/identitypb); needs protoc (apt-get install protobuf-compiler).
	bash hack/tools/proto.sh

.PHONY: verify-generate
verify-generate: generate ## Fail when generated files are out of date.
	@git diff --exit-code -- api deploy/charts/outrider/crds || { echo "generated files are stale: run make generate and commit"; exit 1; }

.PHONY: lint
lint: $(STATICCHECK) ## go vet and staticcheck.
	$(GO) vet ./...
	$(STATICCHECK) ./...

.PHONY: unit
unit: bin/tools/cosign ## Unit tests with the race detector, fuzz seed corpora included (cosign for the interop tests).
	$(GO) test -race -count=1 ./...

.PHONY: test
test: lint verify-generate unit e2e ## Everything CI runs: lint, generated files current, unit tests, e2e on the local cluster.

.PHONY: bench
bench: bench-engine ## All benchmarks.

.PHONY: bench-engine
bench-engine: ## Go benchmarks of the engine (one pod evaluation, decoding).
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./internal/policy/ ./internal/workload/ | tee $(BIN)/bench-engine.txt

# --- e2e ---
# Tests against the local cluster (test/e2e, build tag e2e): brings the cluster up first (fast
# when it already runs). They change cluster-wide state briefly (scale the controller, exclude
# their namespaces from the default policy) and restore it.
.PHONY: e2e
e2e: ## End-to-end tests against the local cluster (make up first; needs root).
	$(MAKE) up
	$(GO) test -tags e2e -count=1 -timeout 20m -v ./test/e2e/
# --- end e2e ---

# --- local cluster ---
# A single-node Kubernetes on this machine (hack/cluster, docs/local-cluster.md).
# Needs root. State lives in /var/lib/outrider-cluster, not in the checkout.

.PHONY: up
up: ## Bring the local cluster up (idempotent); kubeconfig in .outrider/kubeconfig.
	bash hack/cluster/up.sh

.PHONY: down
down: ## Stop the local cluster; PURGE=1 also wipes its state (etcd, certs, registry).
	PURGE=$(PURGE) bash hack/cluster/down.sh

.PHONY: cluster-status
cluster-status: ## Show what of the local cluster runs.
	bash hack/cluster/status.sh
# --- end local cluster ---

# --- benchmarks: scan ---
# `outrider scan` against kube-score, gator and conftest on one generated corpus of
# 10,000 workloads (bench/scan, bench/README.md); results in bench/_out/scan-results.md.
.PHONY: bench-scan
bench-scan: ## Time outrider scan against peer scanners (median of 3, wall and peak RSS).
	bash bench/scan/run.sh

bench: bench-scan
# --- end benchmarks: scan ---

# --- benchmarks: admission ---
# Pod creations at 50/s and 200/s through the local cluster's API server (server-side dry-run,
# 10% refused), against a baseline without the webhooks: client, API-server and controller
# latency quantiles, controller CPU/RSS (bench/admission, bench/README.md); results in
# bench/_out/admission-results.md. Briefly adds its baseline namespace to the webhooks'
# namespaceSelector and restores it.
.PHONY: bench-admission
bench-admission: ## Admission webhook latency under fixed-rate pod creations (needs the local cluster).
	bash bench/admission/run.sh

bench: bench-admission

# Image signature verification at admission: a namespace whose SecurityPolicy requires signed
# images under 127.0.0.1:5000/bench-signed/** (pushed and signed by the run, left there);
# cold (a new image per pod), warm (one verified image) and plain pods side by side, registry
# requests per 1,000 creations, and the cosign CLI and `outrider image verify` timed on the
# same signatures (bench/admission/run.sh); results in bench/_out/admission-signatures-results.md.
.PHONY: bench-admission-signatures
bench-admission-signatures: ## Admission latency with signature verification, cold and warm, against cosign (needs the local cluster).
	BENCH_SIGNATURES=1 bash bench/admission/run.sh

bench: bench-admission-signatures
# --- end benchmarks: admission ---

# --- benchmarks: mesh ---
# Two sidecar proxies between a fortio client and server in private network namespaces: direct,
# the Outrider pair (the shipped bin/outrider-proxy; capture rules as in the proxy's netns tests),
# an HAProxy pair and an nginx (stream) pair doing the same mTLS, a plain-TCP HAProxy pair as the
# floor, and the same proxy run from the all-in-one binary (`outrider proxy`) as a diagnostic. Latency at 1,000 req/s over 16 connections,
# iperf3 bulk throughput, each proxy's CPU and RSS (bench/mesh, bench/README.md); installs the
# peers from Debian and fortio into bench/.tools; results in bench/_out/mesh-results.md.
.PHONY: bench-mesh
bench-mesh: ## Mesh data plane: added latency, throughput, CPU and RSS against HAProxy and nginx (needs root).
	bash bench/mesh/run.sh

bench: bench-mesh

# The same load pod to pod in the local cluster: a plain namespace against a meshed one
# (injected capture and proxy, an AccessPolicy allowing the client), the proxies' CPU and RSS
# from /proc, and the pod start-up delay injection adds (create → Ready, with a breakdown).
# Creates and deletes two namespaces bench-mesh-*; pushes 127.0.0.1:5000/fortio:bench
# (bench/mesh/cluster.sh, bench/README.md); results in bench/_out/mesh-cluster-results.md.
.PHONY: bench-mesh-cluster
bench-mesh-cluster: ## Mesh in the local cluster: pod-to-pod latency direct vs meshed, proxy CPU/RSS, pod start-up delay (needs root).
	bash bench/mesh/cluster.sh

bench: bench-mesh-cluster
# --- end benchmarks: mesh ---
