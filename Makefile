# prescale — build, test, benchmark and lint. `make help` lists the targets.

GO         ?= go
DATA       ?= $(abspath ../shared/data)
BIN        := bin/prescale
FUZZTIME   ?= 30s
# A release is a tag vMAJOR.MINOR.PATCH; between releases, git describe's
# vX.Y.Z-N-gSHA. Without any tag the binary says 0.1.0-dev (cmd/prescale).
VERSION    ?= $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null))
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null)
LDFLAGS    := -s -w $(foreach v,Version=$(VERSION) Revision=$(REVISION) BuildDate=$(BUILD_DATE),$(if $(word 2,$(subst =, ,$(v))),-X github.com/prometheus/common/version.$(v)))
export PRESCALE_DATA := $(DATA)

.PHONY: help build image run test test-go test-chart test-ui bench-ui ui chart e2e notebooks prometheus bench fuzz lint generate check-generate eval-m4 eval-events backtest-nasa backtest-panel clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/prescale (stripped, trimmed paths, version from git)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/prescale

image: ## the container image for linux/amd64 and linux/arm64 as an OCI layout in bin/image, without Docker (build/image)
	$(GO) run ./build/image --out bin/image --version $(or $(VERSION),0.1.0-dev) --revision "$(REVISION)" --created "$(BUILD_DATE)"

run: build ## prescale serve on the built-in demo workload (REST and status page on :8080, gRPC and KEDA on :9000); ARGS="--http.addr :8081" adds flags
	$(BIN) serve $(ARGS)

test: lint check-generate prometheus check-deploy test-chart notebooks test-ui test-go ## run the whole test suite: lint, generated code, deploy/ manifests, the Helm chart, notebooks, the web pages in Chromium, Go tests with the race detector

test-go: ## Go tests with the race detector (data from DATA, ../shared/data by default)
	$(GO) test -race -count=1 -timeout 30m ./...

e2e: ## end-to-end test on a real control plane (etcd, kube-apiserver, kube-controller-manager built from k8s.io/kubernetes) with Prometheus and an HPA
	bash .ci/e2e.sh

test-chart: ## the Helm chart through the Helm Go SDK: lint, golden renders, the same objects as deploy/ (test/helm, its own module)
	cd test/helm && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 ./...

test-ui: ## the web pages in headless Chromium (Debian's chromium) against the built binary in demo mode; screenshots in bin/ui (test/ui, its own module)
	bash .ci/chromium.sh
	cd test/ui && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 ./...

bench-ui: ## page weight and time to first render of the web pages with 1,000 targets (test/ui)
	bash .ci/chromium.sh
	cd test/ui && GOWORK=off $(GO) test -count=1 -run '^$$' -bench Pages1000 -benchtime 3x ./...

ui: ## vendor uPlot (the charts of the web pages) from npm into api/ui/vendor, at the version pinned here
	bash .ci/ui-vendor.sh

chart: ## copy deploy/base/crd.yaml and deploy/monitoring/alerts.yaml into the Helm chart (it cannot read files outside itself)
	cp deploy/base/crd.yaml deploy/helm/prescale/files/crd.yaml
	cp deploy/monitoring/alerts.yaml deploy/helm/prescale/files/alerts.yaml

check-deploy: ## check deploy/ without a cluster (kustomize renders, objects agree, examples follow every step)
	bash deploy/check.sh

notebooks: ## execute the notebooks headless and check the reference data they write
	bash .ci/notebooks.sh

prometheus: ## install Debian's prometheus (integration tests start their own servers)
	bash .ci/prometheus.sh

bench: ## benchmarks with allocations
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## each fuzz test (func Fuzz* in a _test.go) for FUZZTIME (30s by default), one at a time; a failing input is saved in testdata/fuzz
	@for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
	    echo "$(GO) test -run '^$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$(dirname $$file)"; \
	    $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$(dirname $$file) || exit 1; \
	  done; \
	done

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

generate: ## regenerate api/prescale/v1 (Go, gRPC, grpc-gateway, OpenAPI) from the proto
	bash .ci/generate.sh

check-generate: ## fail when the committed generated code is not what make generate writes
	bash .ci/generate.sh --check

eval-m4: build ## accuracy, calibration and fit time on M4 Hourly
	$(BIN) eval m4 --data $(DATA)

backtest-nasa: build ## the backtest of the NASA-HTTP trace with the sweep (HTML report in bin/backtest-nasa.html)
	$(BIN) backtest --input $(DATA)/nasa_http/nasa_http_1995_requests_per_minute.csv --capacity 20 --startup 3m --lag 2m \
	  --sweep --report bin/backtest-nasa.html

eval-events: build ## known events: prescale without and with a calendar at equal cost (synthetic named events; NASA-HTTP with the STS-70 launch)
	$(BIN) eval events --data $(DATA)

backtest-panel: build ## the backtest on every trace of the panel (NASA-HTTP, the Twitter stream, synthetic flash crowds of seeds 1-3), each with the sweep
	$(BIN) eval panel --data $(DATA)

clean: ## remove build output
	rm -rf bin
