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

.PHONY: run build test test-go test-policies fuzz bench loadgen lint check-size check-deploy tools clean demo

build:
	$(GO) build -o $(BIN)/ ./cmd/...

## run: start the broker with an embedded NATS server, creating demo agencies on first run: keys in their homes in $(AGENCIES), public keys in $(DATA).
run: build
	@$(BIN)/brokerctl demo --data $(DATA) --agencies $(AGENCIES)
	@echo ""
	@echo "sekretessbroker: NATS on nats://127.0.0.1:4222, metrics on http://127.0.0.1:8080/metrics"
	@echo "In another terminal, send a report of concern from the school to social services:"
	@echo ""
	@echo "  $(BIN)/brokerctl send --from rosengard-skola --keys $(AGENCIES)/rosengard-skola --to soc-malmo --kind concern_report \\"
	@echo "    --meta '{\"category\":\"concern\",\"subject\":{\"pseudonym\":\"elev-4711\",\"birth_date\":\"2013-05-02\"},\"purpose\":\"orosanmälan\"}' \\"
	@echo "    --text 'Eleven berättar om våld i hemmet.'"
	@echo "  $(BIN)/brokerctl recv --as soc-malmo --keys $(AGENCIES)/soc-malmo"
	@echo ""
	@echo "and a disclosure the law does not allow (rejected, with every reason):"
	@echo ""
	@echo "  $(BIN)/brokerctl send --from rosengard-skola --keys $(AGENCIES)/rosengard-skola --to polisen-syd --kind disclosure \\"
	@echo "    --meta '{\"category\":\"health\",\"subject\":{\"pseudonym\":\"elev-4711\",\"age\":13}}' --text 'Elevhälsans journal'"
	@echo "  $(BIN)/brokerctl audit verify"
	@echo "  $(BIN)/brokerctl audit show --identity $(AGENCIES)/auditor/age.key"
	@echo ""
	exec $(BIN)/sekretessbroker --data $(DATA) --policies $(POLICIES)

## test: every test: lint (size check, vet, gofmt, staticcheck, promtool), opa check --strict and opa test, each fuzz target for $(FUZZTIME), Go tests under the race detector (with the end-to-end broker tests).
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

## bench: Go benchmarks of each stage, then the load generator: the standard mix against raw JetStream, with and without fsync, large payloads, two replicas.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./broker/...
	$(GO) tool opa bench -d $(POLICIES) -i $(POLICIES)/examples/r-concern/r-concern.input.json 'data.sekretess.decision'
	$(MAKE) loadgen

# loadgen: the standard mix at both fsync settings, then payloads from 1 KiB
# to 256 KiB, and a second broker replica in the queue group.
loadgen:
	$(GO) run ./cmd/loadgen -n 3000 -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 3000 -no-fsync -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 1000 -sizes 1024,16384,65536,262144 -policies $(POLICIES)
	$(GO) run ./cmd/loadgen -n 2000 -replicas 2 -no-fsync -policies $(POLICIES)

## lint: no tracked file over 1 MB (build outputs stay out of git), the alert rules, go vet, gofmt and staticcheck.
lint: check-size check-deploy
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck ./...

check-size:
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 1048576 {print "  " $$2 " (" $$1 " bytes)"}'); \
	if [ -n "$$big" ]; then echo "tracked files over 1 MB (build outputs or data do not belong in git):"; echo "$$big"; exit 1; fi

## check-deploy: promtool checks the alert rules and runs their unit tests.
check-deploy: tools
	promtool check rules deploy/sekretessbroker.rules.yml
	promtool test rules deploy/sekretessbroker.rules.test.yml

## tools: the tests' tools that are not Go modules, from Debian's packages at pinned versions
## (apt-get update first; installed only when missing): promtool, and chromium for the browser tests.
## opa and staticcheck are `go tool`s in go.mod.
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

## demo: the three scenarios of the joint guidance (seed 002) end to end through a real broker on loopback, with the officials' clients.
demo:
	$(GO) run ./cmd/demo -policies $(POLICIES)

clean:
	rm -rf $(BIN)
