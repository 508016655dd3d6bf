# Nexmark side by side with Apache Flink (issue 4; docs/nexmark.md).
# Included from the Makefile; needs Java 17 and Maven besides Go. The first
# build of the Flink jar downloads Flink from Maven Central into ~/.m2.
#
#   make nexmark-flink-jar    build examples/nexmark/flink/target/weir-nexmark-flink.jar
#   make nexmark-flink-check  Flink's (RocksDB and heap) and Weir's results == the Go reference, every query
#   make bench-nexmark        Weir vs Flink (RocksDB, heap): events/s, ratios, peak RSS, one table
#
# Variables (make bench-nexmark NEXMARK_EVENTS=5000000 NEXMARK_QUERIES=q0,q5).
# NEXMARK_WASM_DIR=examples/nexmark-rust runs q0-q2 with their Rust operators
# (built by `make wasm-rust`) instead of the Go ones.
NEXMARK_QUERIES             ?= all
NEXMARK_EVENTS              ?= 10000000
NEXMARK_PARALLELISM         ?= 2
NEXMARK_CHECKPOINT_INTERVAL ?= 10s
NEXMARK_BACKENDS            ?= rocksdb,heap
NEXMARK_JVM_ARGS            ?= -Xmx2g
NEXMARK_CHECK_EVENTS        ?= 100000
NEXMARK_WASM_DIR            ?=
# Weir's state cache per keyed subtask (empty: Weir's default, 64MiB).
NEXMARK_STATE_CACHE         ?=
MVN                         ?= mvn
GO                          ?= go

NEXMARK_FLINK_DIR := examples/nexmark/flink
NEXMARK_FLINK_JAR := $(NEXMARK_FLINK_DIR)/target/weir-nexmark-flink.jar

.PHONY: nexmark-flink-jar nexmark-flink-check bench-nexmark bin/weir-nexmark

# Maven decides what is stale; -q -B keeps it quiet and non-interactive.
nexmark-flink-jar:
	cd $(NEXMARK_FLINK_DIR) && $(MVN) -q -B -Dstyle.color=never package

bin/weir-nexmark:
	$(GO) build -o $@ ./internal/nexmarkbench/cmd/weir-nexmark

nexmark-flink-check: nexmark-flink-jar bin/weir-nexmark
	$(GO) run ./internal/nexmarkcompare/cmd/nexmark-flink-check -queries $(NEXMARK_QUERIES) \
		-events $(NEXMARK_CHECK_EVENTS) -parallelism $(NEXMARK_PARALLELISM) -backends $(NEXMARK_BACKENDS) \
		-jvm-args "$(NEXMARK_JVM_ARGS)" -weir bin/weir-nexmark

bench-nexmark: nexmark-flink-jar bin/weir-nexmark $(if $(NEXMARK_WASM_DIR),wasm-rust)
	$(GO) run ./internal/nexmarkcompare/cmd/bench-nexmark -queries $(NEXMARK_QUERIES) \
		-events $(NEXMARK_EVENTS) -parallelism $(NEXMARK_PARALLELISM) \
		-checkpoint-interval $(NEXMARK_CHECKPOINT_INTERVAL) -backends $(NEXMARK_BACKENDS) \
		-jvm-args "$(NEXMARK_JVM_ARGS)" -weir bin/weir-nexmark $(if $(NEXMARK_WASM_DIR),-wasm-dir $(NEXMARK_WASM_DIR)) \
		$(if $(NEXMARK_STATE_CACHE),-state-cache $(NEXMARK_STATE_CACHE))
