# sekretessbroker. Two commands set up a fresh machine: `make run` and `make test`.
# Go tools come from go.mod (opa and staticcheck are pinned `go tool`s); the
# others from Debian's packages at pinned versions (`make tools`, run by `make test`).

SHELL    := /bin/bash
GO       ?= go
DATA     ?= ./data
AGENCIES ?= ./agencies
POLICIES ?= ./policies
BIN      := bin
# FUZZTIME is how long `make fuzz` runs each fuzz target.
FUZZTIME ?= 5s
FUZZFLAGS ?=

# Every fuzz target, as package:Target; adding a target is one line here.
FUZZ_TARGETS := \
	./broker/envelope:FuzzParse \
	./broker/decision:FuzzVerify \
	./broker/decision:FuzzReceiptTamper \
	./broker/directory:FuzzParse \
	./broker/consent:FuzzRecord \
	./broker/consent:FuzzRef \
	./broker/enroll:FuzzParse \
	./broker/audit:FuzzReadExport \
	./broker/audit:FuzzExportTamper \
	./broker/audit:FuzzCheckProof \
	./broker/audit:FuzzProofTamper \
	./broker/audit:FuzzParseCheckpoint \
	./broker/audit:FuzzOpenCheckpoint \
	./broker/audit:FuzzCosign \
	./broker/audit:FuzzWitnessKey \
	./broker/keys:FuzzSigningKey \
	./broker/keys:FuzzSigningPublicKey \
	./broker/keys:FuzzAgeRecipients \
	./broker/keys:FuzzAgeIdentity \
	./broker/keys:FuzzNKeySeed \
	./broker/keys:FuzzAuditKey \
	./clients/pseudonym:FuzzParse \
	./broker/keys:FuzzPseudonymKey

.PHONY: run build test test-go test-policies fuzz bench bench-policy loadgen lint check-size check-deploy k8s-schemas tools clean demo

build:
	$(GO) build -o $(BIN)/ ./cmd/...

## run: start the broker with an embedded NATS server, creating demo agencies on first run: keys in their homes in $(AGENCIES), public keys in $(DATA).
run: build
	@$(BIN)/brokerctl demo --data $(DATA) --agencies $(AGENCIES)
	@echo ""
	@echo "sekretessbroker: NATS on nats://127.0.0.1:4222, metrics on http://127.0.0.1:8080/metrics"
	@echo "Operations dashboard: open http://127.0.0.1:8080/ and sign in with the token in $(DATA)/broker/ops.token, or:"
	@echo "  curl -s -H \"Authorization: Bearer \$$(cat $(DATA)/broker/ops.token)\" http://127.0.0.1:8080/ops/api/summary"
	@echo "In another terminal, send a report of concern from the school to social services:"
	@echo ""
	@echo "  $(BIN)/brokerctl send --from rosengard-skola --keys $(AGENCIES)/rosengard-skola --to soc-malmo --kind concern_report \\"
	@echo "    --meta '{\"category\":\"concern\",\"subject\":{\"pseudonym\":\"elev-4711\",\"birth_date\":\"2013-05-02\"},\"purpose\":\"orosanmälan\"}' \\"
	@echo "    --text 'Eleven berättar om våld i hemmet.'"
	@echo "  $(BIN)/brokerctl recv --as soc-malmo --keys $(AGENCIES)/soc-malmo"
	@echo ""
	@echo "and a disclosure the law does not allow (rejected: the decisive reasons first, --all for every one):"
	@echo ""
	@echo "  $(BIN)/brokerctl send --from rosengard-skola --keys $(AGENCIES)/rosengard-skola --to polisen-syd --kind disclosure \\"
	@echo "    --meta '{\"category\":\"health\",\"subject\":{\"pseudonym\":\"elev-4711\",\"age\":13}}' --text 'Elevhälsans journal'"
	@echo "  $(BIN)/brokerctl audit verify"
	@echo "  $(BIN)/brokerctl audit show --identity $(AGENCIES)/auditor/age.key"
	@echo ""
	@echo "The agencies' gateways (HTTP JSON API for case-management systems; README: The agency gateway):"
	@echo ""
	@echo "  make gateways"
	@echo ""
	exec $(BIN)/sekretessbroker --data $(DATA) --policies $(POLICIES)

## test: every test: lint (size check, vet, gofmt, staticcheck, the deployment files with promtool and kubeconform), opa check --strict and opa test, each fuzz target for $(FUZZTIME), Go tests under the race detector (with the end-to-end broker tests).
test: tools lint test-policies fuzz test-go

# test-go ends with one line counting the packages that passed and failed.
test-go:
	@mkdir -p $(BIN)
	$(GO) test -race -count=1 -timeout 30m ./... 2>&1 | tee $(BIN)/go-test.log; status=$${PIPESTATUS[0]}; \
	echo "packages: $$(grep -c '^ok' $(BIN)/go-test.log) passed, $$(grep -cE '^FAIL[[:space:]]+[a-z]' $(BIN)/go-test.log) failed"; \
	exit $$status

test-policies:
	$(GO) tool opa check --strict $(POLICIES)
	$(GO) tool opa test $(POLICIES)

## fuzz: run each target in FUZZ_TARGETS for FUZZTIME (5s), one after the other (go test takes one -fuzz target at a time); FUZZFLAGS adds flags, e.g. FUZZFLAGS=-parallel=1.
# Seeds are in each package's testdata/fuzz/<Target>/; new inputs go to Go's
# cache, and an input that fails is written to testdata/fuzz/<Target>/ to be
# kept as a regression test. go1.26's fuzz coordinator can stop a passing run
# with a bare "context deadline exceeded" when -fuzztime ends mid-input
# (go.dev/issue/75804); such a run is a pass unless it wrote a failing input.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; dir=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls $$dir 2>/dev/null | wc -l); \
		echo "fuzz $$pkg $$name"; \
		if ! out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg 2>&1); then \
			after=$$(ls $$dir 2>/dev/null | wc -l); \
			if [ "$$after" = "$$before" ] && echo "$$out" | grep -q '^    context deadline exceeded$$' && \
				! echo "$$out" | grep -q -e 'Failing input' -e '^panic:'; then \
				echo "$$out" | grep '^fuzz: elapsed' | tail -1; echo "  (stopped by go.dev/issue/75804, no failing input)"; continue; \
			fi; \
			echo "$$out"; exit 1; \
		fi; \
		echo "$$out" | grep '^fuzz: elapsed' | tail -1; \
	done

## bench: Go benchmarks of each stage, the cost of a decision (bench-policy), then the load generator: the standard mix against raw JetStream, with and without fsync, large payloads, two replicas.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./broker/...
	$(MAKE) bench-policy
	$(MAKE) loadgen

## bench-policy: what an allowed decision and a denial cost as a multiple of a trivial policy, with opa bench in one run (targets 5x and 10x); BEFORE=<git rev> also measures that revision's policies.
bench-policy:
	BEFORE=$(BEFORE) COUNT=$(or $(COUNT),3) sh $(POLICIES)/bench.sh

# loadgen: the standard mix at both fsync settings, then payloads from 1 KiB
# to 256 KiB, and a second broker replica in the queue group.
loadgen:
	$(GO) run ./cmd/loadgen -n 3000 -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 3000 -no-fsync -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 1000 -sizes 1024,16384,65536,262144 -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 2000 -replicas 2 -no-fsync -policies $(POLICIES)

## lint: no tracked file over 1 MB (build outputs stay out of git), the deployment files (check-deploy), go vet, gofmt and staticcheck.
lint: check-size check-deploy
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck ./...

check-size:
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 {print "  " $$2 " (" $$1 " bytes)"}'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MB (build outputs or data do not belong in git):"; echo "$$big"; exit 1; fi

## check-deploy: the deployment files in deploy/: promtool checks the alert rules, runs their unit tests and
## checks both scrape configs (with the rule files they name, relative to them); kubeconform validates the
## Kubernetes manifests, strictly, against the API's schemas (k8s-schemas); and deploy/'s Go tests check the
## compose file, the Grafana dashboard, the broker's data layout and the NATS chart's values.
K8S_MANIFESTS := deploy/k8s/namespace.yaml deploy/k8s/broker.yaml deploy/k8s/networkpolicy.yaml
check-deploy: tools k8s-schemas
	promtool check rules deploy/sekretessbroker.rules.yml
	promtool test rules deploy/sekretessbroker.rules.test.yml
	promtool check config deploy/prometheus.yml
	promtool check config deploy/k8s/prometheus.yml
	$(GO) tool kubeconform -strict -summary -kubernetes-version $(K8S_VERSION) \
		-schema-location '$(K8S_SCHEMAS)/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
		$(K8S_MANIFESTS)
	@if $(GO) tool kubeconform -strict -kubernetes-version $(K8S_VERSION) \
		-schema-location '$(K8S_SCHEMAS)/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
		deploy/testdata/k8s-invalid.yaml >/dev/null; then \
		echo "kubeconform accepted deploy/testdata/k8s-invalid.yaml: the schemas in $(K8S_SCHEMA_DIR) are not strict"; exit 1; fi
	$(GO) test -count=1 ./deploy/...

## k8s-schemas: the Kubernetes API's JSON schemas for kubeconform, in $(K8S_SCHEMAS) (gitignored; made once per
## K8S_VERSION). They are made by deploy/k8sschema from the OpenAPI document in the k8s.io/kubernetes module,
## which the Go module proxy serves (checked against its go.sum hash below), so nothing comes from GitHub.
K8S_VERSION    := 1.36.3
K8S_MODULE_SUM := h1:qDQdoMiluAE2Eab6Fa52YV+WjiGz9mZFFoagEA6cI+o=
K8S_SCHEMAS    := .cache/kubernetes-json-schema
K8S_SCHEMA_DIR := $(K8S_SCHEMAS)/v$(K8S_VERSION)-standalone-strict
k8s-schemas: $(K8S_SCHEMA_DIR)/.done
$(K8S_SCHEMA_DIR)/.done: deploy/k8sschema/main.go
	@set -eo pipefail; \
	info=$$(cd "$$(mktemp -d)" && GOFLAGS= $(GO) mod download -json k8s.io/kubernetes@v$(K8S_VERSION)); \
	dir=$$(echo "$$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	sum=$$(echo "$$info" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$$/\1/p'); \
	if [ "$$sum" != "$(K8S_MODULE_SUM)" ]; then echo "k8s.io/kubernetes@v$(K8S_VERSION): hash $$sum, want $(K8S_MODULE_SUM)"; exit 1; fi; \
	rm -rf $(K8S_SCHEMA_DIR); \
	$(GO) run ./deploy/k8sschema -spec "$$dir/api/openapi-spec/swagger.json" -out $(K8S_SCHEMA_DIR); \
	touch $@

## tools: the tests' tools that are not Go modules, from Debian's packages at pinned versions
## (apt-get update first; installed only when missing): promtool, and chromium for the browser tests.
## opa, staticcheck and kubeconform are `go tool`s in go.mod; kubeconform's schemas come from `make k8s-schemas`.
PROMETHEUS_DEB := prometheus=2.42.0+ds-5+deb12u1
CHROMIUM_DEB   := chromium=156.0.8078.108-1~deb12u1
tools:
	@missing=""; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing $(PROMETHEUS_DEB)"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing $(CHROMIUM_DEB)"; \
	if [ -n "$$missing" ]; then \
		sudo=""; if [ "$$(id -u)" != 0 ]; then sudo=sudo; fi; \
		$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends $$missing; \
	fi

# GATEWAYS are the demo agencies' gateways, as agency:port; each listens on 127.0.0.1:port
# and reaches the broker at NATS_URL.
GATEWAYS ?= rosengard-skola:8091 soc-malmo:8092 polisen-syd:8093
NATS_URL ?= nats://127.0.0.1:4222

## gateways: start a gateway for each demo agency of `make run` (rosengard-skola on 127.0.0.1:8091, soc-malmo on :8092, polisen-syd on :8093); each writes its token to $(AGENCIES)/<id>/gateway.token. Ctrl-C stops them.
.PHONY: gateways
gateways: build
	@pids=""; trap 'kill $$pids 2>/dev/null; wait' INT TERM EXIT; \
	for g in $(GATEWAYS); do \
		$(BIN)/gateway --data $(DATA) --keys $(AGENCIES)/$${g%%:*} --as $${g%%:*} --listen 127.0.0.1:$${g##*:} --nats-url $(NATS_URL) & pids="$$pids $$!"; \
	done; wait

## demo: the three scenarios of the joint guidance (seed 002) end to end through a real broker on loopback, with the officials' clients.
demo:
	$(GO) run ./cmd/demo -policies $(POLICIES)

clean:
	rm -rf $(BIN)
