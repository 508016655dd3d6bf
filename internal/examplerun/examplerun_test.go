package examplerun

import (
	"testing"

	"github.com/weirstream/weir/examples/wordcount/count"
	"github.com/weirstream/weir/host/native"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
)

// TestHarness checks that Harness drives the operator it is given, native or
// a module that Wasm loads into the shared engine, and keys the harness as
// info says: the running count keeps keyed state, which an unkeyed harness
// refuses (NOT_ALLOWED, ABI §6).
func TestHarness(t *testing.T) {
	nativeCount := func(*testing.T) runtime.OperatorFactory { return native.Factory(count.Operator) }
	wasmCount := func(t *testing.T) runtime.OperatorFactory { return Wasm(t, "../../examples/wordcount/count/wasm") }
	for _, tc := range []struct {
		name    string
		factory func(t *testing.T) runtime.OperatorFactory
		keyed   bool
		wantErr bool
	}{
		{"native keyed", nativeCount, true, false},
		{"native unkeyed", nativeCount, false, true},
		{"wasm keyed", wasmCount, true, false},
		{"wasm unkeyed", wasmCount, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Harness(t, tc.factory(t), runtime.OperatorInfo{Name: "count", Keyed: tc.keyed, Config: []byte(`{"mode": "running"}`)})
			err := h.TryProcess(weir.Record{Key: []byte("x")}, weir.Record{Key: []byte("x")})
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("process: %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if out := h.Output(0); len(out) != 2 || string(out[1].Value) != "2" {
				t.Fatalf("output %v, want the running counts 1 and 2 of x", out)
			}
		})
	}
}
