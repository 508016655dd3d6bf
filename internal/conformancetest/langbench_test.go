package conformancetest

import (
	"testing"

	"github.com/weirstream/weir/examples/wordcount/count"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/internal/enginebench/filter"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// The benchmarks of this file compare the same operators across languages,
// per batch of benchBatchRecords records through the real host with a
// benchEnv (see benchOperator): the stateless and keyed operators of the
// engine benchmarks (internal/enginebench) natively and as Go and C Wasm
// modules, and two reference operators of the suite in every language of its
// table. Compare cpu-ns/record:
//
//	go test -run '^$' -bench 'Lang' -benchtime 2000x ./internal/conformancetest/

// langOperator is one build of an operator in a benchmark.
type langOperator struct {
	name    string
	factory func(b *testing.B) runtime.OperatorFactory
}

func runLang(b *testing.B, builds []langOperator, config []byte, value func(int) string) {
	for _, o := range builds {
		b.Run(o.name, func(b *testing.B) { benchOperator(b, o.factory(b), config, value) })
	}
}

func nativeBuild(f runtime.OperatorFactory) func(b *testing.B) runtime.OperatorFactory {
	return func(*testing.B) runtime.OperatorFactory { return f }
}

func goBuild(dir string) func(b *testing.B) runtime.OperatorFactory {
	return func(b *testing.B) runtime.OperatorFactory { return wasmFactory(b, "go", wasmbuild.MustGo(b, dir)) }
}

func cBuild(src string) func(b *testing.B) runtime.OperatorFactory {
	return func(b *testing.B) runtime.OperatorFactory { return wasmFactory(b, "c", wasmbuild.MustC(b, src)) }
}

// suiteBuilds returns the builds of a guest of the suite in every language.
func suiteBuilds(guest string) []langOperator {
	var out []langOperator
	for _, lang := range languages {
		out = append(out, langOperator{lang, func(b *testing.B) runtime.OperatorFactory {
			return wasmFactory(b, lang, build(b, lang, guest))
		}})
	}
	return out
}

// BenchmarkLangFilter is the stateless map and filter of the engine
// benchmarks: native Go, Go Wasm and C Wasm.
func BenchmarkLangFilter(b *testing.B) {
	runLang(b, []langOperator{
		{"native", nativeBuild(native.Factory(filter.Operator))},
		{"go", goBuild("../enginebench/filter/wasm")},
		{"c", cBuild("../enginebench/cguest/filter.c")},
	}, nil, constValue)
}

// BenchmarkLangCountRunning is the keyed running count of the engine
// benchmarks (a value state read and written per record): native Go, Go
// Wasm and C Wasm.
func BenchmarkLangCountRunning(b *testing.B) {
	runLang(b, []langOperator{
		{"native", nativeBuild(native.Factory(count.Operator))},
		{"go", goBuild("../../examples/wordcount/count/wasm")},
		{"c", cBuild("../../examples/wordcount-c/count/count.c")},
	}, []byte(`{"mode":"running"}`), constValue)
}

// BenchmarkLangUpper is the suite's stateless map in every language.
func BenchmarkLangUpper(b *testing.B) {
	runLang(b, suiteBuilds("upper"), nil, constValue)
}

// BenchmarkLangRunningSum is the suite's keyed running sum in every language.
func BenchmarkLangRunningSum(b *testing.B) {
	runLang(b, suiteBuilds("runningsum"), nil, func(int) string { return "1" })
}
