package enginebench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// The benchmarks of this file run the jobs of bench_test.go with operators
// written in Rust against the Rust SDK (sdk/rust) and built with rustc for
// wasm32-unknown-unknown (wasmbuild.Rust): the stateless filter
// (rustguest/filter.rs, the same map and filter as filter/) and the keyed
// running count (examples/wordcount-rust/count, the Rust twin of
// examples/wordcount/count). Compare them with the Native and Wasm (Go)
// benchmarks of the same jobs, run back to back:
//
//	go test -run '^$' -bench 'Stateless|KeyedCount' -benchtime 3x ./internal/enginebench/

// rustFactory builds the Rust operator src (a .rs file or a crate directory)
// with rustc and loads it into the shared engine.
func rustFactory(tb testing.TB, src string) runtime.OperatorFactory {
	tb.Helper()
	wasm, err := os.ReadFile(wasmbuild.MustRust(tb, src))
	if err != nil {
		tb.Fatal(err)
	}
	name := "rust-" + strings.TrimSuffix(filepath.Base(src), ".rs")
	m, err := engine.Load(context.Background(), name, wasm, host.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func BenchmarkStatelessRust(b *testing.B) {
	op := rustFactory(b, "rustguest/filter.rs")
	runJob(b, statelessRecords, func() (*runtime.Job, runtime.Config) {
		return statelessJob(generator(b, statelessRecords, 1000), op, &discardSink{}), runtime.Config{Store: mustStore(b)}
	})
}

func BenchmarkKeyedCountRust(b *testing.B) {
	op := rustFactory(b, "../../examples/wordcount-rust/count")
	runJob(b, keyedRecords, func() (*runtime.Job, runtime.Config) {
		return keyedJob(generator(b, keyedRecords, keyedKeys), op, &discardSink{}), keyedConfig(b)
	})
}
