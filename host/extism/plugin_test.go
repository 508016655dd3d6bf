package extism

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
)

// fn is a function of a hand-made test module: an import or an export.
type fn struct {
	module, name    string // module is empty for an export
	params, results []api.ValueType
}

// wasmModule encodes a module with one memory, the imported functions and
// the exported functions of fns; each exported function returns zeros.
func wasmModule(fns ...fn) []byte {
	vec := func(items ...[]byte) []byte {
		out := []byte{byte(len(items))}
		for _, it := range items {
			out = append(out, it...)
		}
		return out
	}
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	section := func(id byte, body []byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	var types, imports, funcs, exports, code [][]byte
	nImports := 0
	for _, f := range fns {
		if f.module != "" {
			nImports++
		}
	}
	for _, f := range fns {
		ti := byte(len(types))
		types = append(types, append(append([]byte{0x60}, vec(bytesOf(f.params)...)...), vec(bytesOf(f.results)...)...))
		if f.module != "" {
			imports = append(imports, append(append(str(f.module), str(f.name)...), 0x00, ti))
			continue
		}
		exports = append(exports, append(str(f.name), 0x00, byte(nImports+len(funcs))))
		funcs = append(funcs, []byte{ti})
		body := []byte{0x00} // no locals
		for _, r := range f.results {
			body = append(body, map[api.ValueType]byte{api.ValueTypeI32: 0x41, api.ValueTypeI64: 0x42}[r], 0x00)
		}
		code = append(code, append([]byte{byte(len(body) + 1)}, append(body, 0x0b)...))
	}
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	m = append(m, section(1, vec(types...))...)
	m = append(m, section(2, vec(imports...))...)
	m = append(m, section(3, vec(funcs...))...)
	m = append(m, section(5, vec([]byte{0x00, 0x01}))...) // memory: min 1 page
	m = append(m, section(7, vec(exports...))...)
	return append(m, section(10, vec(code...))...)
}

// bytesOf returns each value type as a one-byte item.
func bytesOf(ts []api.ValueType) [][]byte {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		out[i] = []byte{t}
	}
	return out
}

var (
	i32, i64   = api.ValueTypeI32, api.ValueTypeI64
	processFn  = fn{name: DefaultFunction, results: []api.ValueType{i32}}
	stateGetFn = fn{module: HostModule, name: "weir_v1_state_get", params: []api.ValueType{i64, i64, i64}, results: []api.ValueType{i64}}
)

// TestLoad checks what Load accepts and the *host.ModuleError of what it
// rejects, with every problem listed.
func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wasm     []byte
		opts     Options
		problems []string // empty: Load succeeds
		reason   string
	}{
		{name: "minimal plugin", wasm: wasmModule(processFn)},
		{name: "function without a result", wasm: wasmModule(fn{name: "run"}), opts: Options{Function: "run"}},
		{name: "host function, WASI and Extism imports",
			wasm: wasmModule(stateGetFn, fn{module: "wasi_snapshot_preview1", name: "random_get", params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
				fn{module: "extism:host/env", name: "input_length", results: []api.ValueType{i64}}, processFn)},
		{name: "not wasm", wasm: []byte("\x7fELF...."), reason: "is not a WebAssembly module"},
		{name: "invalid wasm", wasm: append(wasmModule(processFn), 0xff), reason: "could not be compiled"},
		{name: "missing function", wasm: wasmModule(fn{name: "other", results: []api.ValueType{i32}}),
			problems: []string{"missing export weir_process_batch () -> i32 (the function called per batch)"}},
		{name: "a Weir ABI module", wasm: wasmModule(fn{name: "weir_v1_process", params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}}),
			problems: []string{"missing export weir_process_batch () -> i32: the module exports weir_v1_process, so it is a Weir ABI module, not an Extism plugin"}},
		{name: "every problem at once",
			wasm: wasmModule(
				fn{module: HostModule, name: "weir_v1_state_get", params: []api.ValueType{i32, i64, i64}, results: []api.ValueType{i64}},
				fn{module: HostModule, name: "fetch_url", params: []api.ValueType{i64}, results: []api.ValueType{i64}},
				fn{module: "wasi_snapshot_preview1", name: "sock_accept", params: []api.ValueType{i32, i32, i32}, results: []api.ValueType{i32}},
				fn{module: "env", name: "now", results: []api.ValueType{i64}},
				fn{name: DefaultFunction, params: []api.ValueType{i32}, results: []api.ValueType{i32}}),
			problems: []string{
				"import extism:host/user.weir_v1_state_get has the wrong signature: expected (i64, i64, i64) -> i64, got (i32, i64, i64) -> i64",
				`unknown import extism:host/user.fetch_url (i64) -> i64: Weir offers no host function "fetch_url" (see docs/extism.md)`,
				"forbidden import wasi_snapshot_preview1.sock_accept (i32, i32, i32) -> i32: operators have no network access",
				"forbidden import env.now () -> i64: only extism:host/env, extism:host/user and wasi_snapshot_preview1 functions may be imported",
				"export weir_process_batch has the wrong signature: expected () -> i32, got (i32) -> i32",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Logger = slog.New(slog.DiscardHandler)
			p, err := Load(context.Background(), "m.wasm", tc.wasm, tc.opts)
			if tc.problems == nil && tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				// A module that writes no output emits nothing.
				op := newOperator(t, p, runtime.OperatorInfo{})
				env := newFakeEnv()
				if err := env.process(op, batchOf(rec{"k", "v", 1})); err != nil || len(env.Emits) != 0 {
					t.Fatalf("process: %v, emits %v", err, env.Emits)
				}
				if err := op.Close(); err != nil {
					t.Fatal(err)
				}
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				return
			}
			var me *host.ModuleError
			if !errors.As(err, &me) {
				t.Fatalf("got %v, want a *host.ModuleError", err)
			}
			if me.Module != "m.wasm" || !strings.Contains(me.Reason, tc.reason) {
				t.Errorf("module %q reason %q, want m.wasm and %q", me.Module, me.Reason, tc.reason)
			}
			if strings.Join(me.Problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems\n%s\nwant\n%s", strings.Join(me.Problems, "\n"), strings.Join(tc.problems, "\n"))
			}
		})
	}
}

// TestOptions checks the validation of Options.
func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"memory too small", Options{Limits: host.Limits{MemoryBytes: 1000}}, "memory limit 1000 bytes is outside 64 KiB..4 GiB"},
		{"negative timeout", Options{Limits: host.Limits{CallTimeout: -1}}, "call timeout -1ns is negative"},
		{"negative byte limit", Options{Limits: host.Limits{MaxKeyBytes: -1}}, "negative byte limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(context.Background(), "m", wasmModule(processFn), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `load extism plugin "m"`) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	p, err := Load(context.Background(), "m", wasmModule(processFn), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if got := p.Limits(); got.MemoryBytes != host.DefaultMemoryBytes || got.CallTimeout != host.DefaultCallTimeout || p.Function() != DefaultFunction || p.Name() != "m" {
		t.Fatalf("defaults: %+v, function %q", got, p.Function())
	}
}
