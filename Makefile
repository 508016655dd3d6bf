# Weir — build, demo, tests, benchmarks.
#
#   make demo    build weir and the example Wasm modules, run word count, print the result
#   make test    everything CI runs: format, vet, unit, simulation, crash and import-rule tests
#   make bench   the Go benchmarks of docs/BENCHMARKS.md
#   make bench-nexmark  Nexmark, Weir and Apache Flink side by side (mk/nexmark.mk)
#
# The Go guests need only Go (GOOS=wasip1 GOARCH=wasm); the Rust and C guests need
# Debian's rustc (+ wasm32 std), clang and lld, which `make toolchains` installs
# (the test target runs it). mk/*.mk hold the per-toolchain rules.

GO      ?= go
BIN     := bin/weir
WASMGO  := GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared
# Every examples/<example>/<operator>/wasm directory is a Wasm main package; it
# builds to examples/<example>/<operator>.wasm, next to the job specs that name it.
WASM_MAINS := $(wildcard examples/*/*/wasm)
WASM       := $(patsubst %/wasm,%.wasm,$(WASM_MAINS))

.PHONY: all build wasm demo test test-go test-sdk check bench bench-memory bench-guest-memory clean toolchains minio kafka natscli

all: build wasm

build:
	$(GO) build -o $(BIN) ./cmd/weir

include mk/rust.mk mk/c.mk mk/nexmark.mk

wasm: $(WASM) wasm-rust wasm-c

# Rebuilt every time: go's build cache makes it cheap, and make cannot see the
# Go dependency graph.
.PHONY: $(WASM)
$(WASM): %.wasm: %/wasm
	$(WASMGO) -o $@ ./$</

demo: build $(WASM)
	@rm -rf .weir/jobs/wordcount examples/wordcount/out
	./$(BIN) run examples/wordcount/job.yaml
	@echo
	@echo "Top 15 words (committed output in examples/wordcount/out/):"
	@cat examples/wordcount/out/part-* | sort -t'	' -k2,2nr -k1,1 | head -15

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	cd sdk/go && $(GO) vet ./...

test-go: toolchains minio kafka wasm
	$(GO) test -count=1 -timeout 60m ./...

test-sdk:
	cd sdk/go && $(GO) test -count=1 ./...
	cd sdk/go && for d in internal/conformance/*/wasm; do GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o /dev/null ./$$d || exit 1; done

# The Rust and C guests build with Debian's rustc (+ the wasm32 standard library),
# clang and lld; this installs them if they are missing (idempotent).
toolchains:
	bash scripts/install-toolchains.sh
	bash scripts/install-postgres.sh

# The S3 tests run against a real MinIO server, built from its Go module once
# and cached (idempotent).
minio:
	bash scripts/install-minio.sh

# The Kafka tests start a real broker (KRaft mode) from the Apache Kafka jars,
# fetched from Maven Central once and cached (idempotent).
kafka:
	bash scripts/install-kafka.sh

# BenchmarkNATSBench (cmd/weir) runs `nats bench` beside Weir; the NATS CLI is
# built from its Go module once and cached (idempotent). No test needs it.
natscli:
	bash scripts/install-natscli.sh

test: toolchains check test-go test-sdk test-rust

bench: toolchains wasm
	$(GO) test -run '^$$' -bench . -benchtime 2s ./abi/ ./host/... ./runtime/... ./plugins/... ./examples/...
	$(GO) test -run '^$$' -bench Lang -benchtime 5000x ./internal/conformancetest/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/enginebench/

# Peak RSS of a keyed job whose state (~10.2 M keys) far exceeds its state
# cache: once with Go's default GC, once with a soft memory limit (GOMEMLIMIT).
BENCH_MEMORY_LIMIT ?= 384MiB
bench-memory: build wasm
	for limit in off $(BENCH_MEMORY_LIMIT); do \
		echo "GOMEMLIMIT=$$limit"; rm -rf /tmp/weir-bench-memory; \
		GOMEMLIMIT=$$limit /usr/bin/time -v ./$(BIN) run --progress 10s --data-dir /tmp/weir-bench-memory --state-cache 64MiB internal/enginebench/testdata/keyed10m.yaml 2>&1 | grep -E "keyed10m|Maximum resident|Elapsed|User time|System time" || exit 1; \
	done

# Peak RSS of runs of a guest that grows its memory to the limit (issue 14).
bench-guest-memory: build
	scripts/guest-memory-rss.sh $(BIN)

clean: clean-rust clean-c
	rm -rf bin .weir $(WASM) examples/*/out

# The Connect API's generated code (runtime/api/weirv1), committed. Needs protoc
# (Debian's protobuf-compiler); the Go plugins run at the versions in go.mod.
.PHONY: proto
proto:
	command -v protoc >/dev/null || (apt-get update -qq && apt-get install -y -qq protobuf-compiler)
	$(GO) build -o bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
	$(GO) build -o bin/protoc-gen-connect-go connectrpc.com/connect/cmd/protoc-gen-connect-go
	protoc -I runtime/api --plugin=protoc-gen-go=bin/protoc-gen-go --plugin=protoc-gen-connect-go=bin/protoc-gen-connect-go \
		--go_out=runtime/api --go_opt=module=github.com/weirstream/weir/runtime/api \
		--connect-go_out=runtime/api --connect-go_opt=module=github.com/weirstream/weir/runtime/api \
		weir/v1/weir.proto
