package enginebench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/enginebench/filter"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// The benchmarks of this file run the jobs of bench_test.go with operators
// written in C against sdk/c/weir.h and built with clang: the stateless
// filter (cguest/filter.c, the same map and filter as filter/) and the keyed
// running count (examples/wordcount-c/count, the C twin of
// examples/wordcount/count). Compare them with the Wasm and Native
// benchmarks of the same jobs:
//
//	go test -run '^$' -bench 'Stateless|KeyedCount' -benchtime 3x ./internal/enginebench/

// cFactory builds the C guest src with clang and loads it into the shared
// engine.
func cFactory(tb testing.TB, src string) runtime.OperatorFactory {
	tb.Helper()
	wasm, err := os.ReadFile(wasmbuild.MustC(tb, src))
	if err != nil {
		tb.Fatal(err)
	}
	name := "c-" + strings.TrimSuffix(filepath.Base(src), ".c")
	m, err := engine.Load(context.Background(), name, wasm, host.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func BenchmarkStatelessC(b *testing.B) {
	op := cFactory(b, "cguest/filter.c")
	runJob(b, statelessRecords, func() (*runtime.Job, runtime.Config) {
		return statelessJob(generator(b, statelessRecords, 1000), op, &discardSink{}), runtime.Config{Store: mustStore(b)}
	})
}

func BenchmarkKeyedCountC(b *testing.B) {
	op := cFactory(b, "../../examples/wordcount-c/count/count.c")
	runJob(b, keyedRecords, func() (*runtime.Job, runtime.Config) {
		return keyedJob(generator(b, keyedRecords, keyedKeys), op, &discardSink{}), keyedConfig(b)
	})
}

// wasmOperator adapts a host operator to weirtest.Processor.
type wasmOperator struct{ op runtime.Operator }

func (w wasmOperator) Process(batch []byte, h weir.NativeHost) error {
	return w.op.Process(context.Background(), batch, h)
}

// TestCFilterMatchesGo checks that the C filter emits what the Go filter
// emits, so that the benchmarks compare the same work: keys ending in every
// byte class, values starting with lower and upper case, digits and nothing.
func TestCFilterMatchesGo(t *testing.T) {
	var recs []weir.Record
	for i, k := range []string{"key-0", "key-1", "key-8", "key-9", "", "k", "x:", "7/", "user-42"} {
		for j, v := range []string{"payload", "Payload", "9 lives", "", "z"} {
			recs = append(recs, weir.Record{Key: []byte(k), Value: []byte(v), Timestamp: int64(i), TrackingID: uint64(j + 1)})
		}
	}
	goh := weirtest.New(t, filter.Operator, nil, weirtest.Unkeyed())
	goh.Process(recs...)
	op, err := cFactory(t, "cguest/filter.c").NewOperator(context.Background(), runtime.OperatorInfo{Name: "filter"})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	ch := weirtest.NewProcessor(t, wasmOperator{op}, weirtest.Unkeyed())
	ch.Process(recs...)
	want, got := goh.Output(0), ch.Output(0)
	if len(want) == 0 || len(want) == len(recs) {
		t.Fatalf("the Go filter kept %d of %d records: the test needs some of each", len(want), len(recs))
	}
	if !slices.EqualFunc(got, want, weir.Record.Equal) {
		t.Fatalf("C filter emitted\n%sGo filter\n%s", weirtest.FormatRecords(got), weirtest.FormatRecords(want))
	}
}
