#!/usr/bin/env bash
# Builds the NATS command line tool (natscli), whose `nats bench` BenchmarkNATSBench
# in cmd/weir runs beside Weir against the same nats-server, from its Go module,
# once: into $HOME/.cache/weir/bin/nats (override the directory with
# WEIR_BIN_CACHE, the version with NATSCLI_VERSION). Idempotent: it does nothing
# when the binary is already there. The build takes about a minute on a 2-core
# machine. Only the benchmark needs it; no test does.
set -euo pipefail

bin_dir="${WEIR_BIN_CACHE:-$HOME/.cache/weir/bin}"
version="${NATSCLI_VERSION:-v0.5.0}"
if [ -x "$bin_dir/nats" ]; then
	exit 0
fi
mkdir -p "$bin_dir"
echo "install-natscli: building github.com/nats-io/natscli/nats@$version into $bin_dir (once; about a minute)" >&2
GOBIN="$bin_dir" go install "github.com/nats-io/natscli/nats@$version"
"$bin_dir/nats" --version >/dev/null
