package host

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

var (
	sigNone    = wasmSig{}
	sigI32I32  = wasmSig{[]byte{tI32}, []byte{tI32}}
	sigSockAcc = wasmSig{[]byte{tI32, tI32, tI32}, []byte{tI32}}
)

// TestLoadRejects checks that Load rejects what abi/ABI.md §2, §3, §5 and
// §7.2 forbid, naming the module and listing every problem at once.
func TestLoadRejects(t *testing.T) {
	echo, err := os.ReadFile(wasmbuild.MustGo(t, "testdata/guests/echo"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		wasm []byte
		lim  Limits
		want []string // substrings of the error
	}{
		{"garbage", []byte("this is not wasm at all"), Limits{},
			[]string{`module "m" is not a WebAssembly module: its 23 bytes do not start with the magic \0asm and version 1`}},
		{"empty", nil, Limits{}, []string{`module "m" is not a WebAssembly module`}},
		{"truncated Go guest", echo[:len(echo)/2], Limits{}, []string{`module "m" could not be compiled: `}},
		{"truncated small module", validModule(nil).encode()[:30], Limits{}, []string{`module "m" could not be compiled: `}},
		{"forbidden imports", validModule([]testImport{
			{module: "wasi_snapshot_preview1", name: "sock_accept", sig: sigSockAcc},
			{module: "env", name: "foo", sig: sigNone},
			{module: "wasi_snapshot_preview1", name: "fd_write", sig: wasmSig{[]byte{tI32, tI32, tI32, tI32}, []byte{tI32}}},
		}).encode(), Limits{}, []string{
			`module "m" is not a Weir ABI v1 operator (2 problems):`,
			"\n\tforbidden import wasi_snapshot_preview1.sock_accept (i32, i32, i32) -> i32: operators have no network access",
			"\n\tforbidden import env.foo () -> (): only weir_v1 and wasi_snapshot_preview1 functions may be imported",
		}},
		{"global and table imports", validModule([]testImport{
			{module: "env", name: "g", kind: 3}, {module: "env", name: "tab", kind: 1},
		}).encode(), Limits{}, []string{
			"(2 problems)",
			"forbidden import env.g (a global): only functions may be imported",
			"forbidden import env.tab (a table): only functions may be imported",
		}},
		{"memory import", testModule{imports: []testImport{{module: "env", name: "mem", kind: 2}}, funcs: weirExports}.encode(), Limits{}, []string{
			"(2 problems)",
			"forbidden import env.mem (a memory): only functions may be imported",
			`missing export "memory"`,
		}},
		{"wrong host function signature", validModule([]testImport{
			{module: "weir_v1", name: "state_get", sig: wasmSig{[]byte{tI32}, []byte{tI64}}},
			{module: "weir_v1", name: "emit", sig: wasmSig{[]byte{tI32, tI32, tI32}, []byte{tI32}}},
		}).encode(), Limits{}, []string{
			`module "m" is not a Weir ABI v1 operator: import weir_v1.state_get has the wrong signature: expected (i32, i32, i32, i32, i32, i32, i32) -> i64, got (i32) -> i64`,
		}},
		{"unknown host function", validModule([]testImport{{module: "weir_v1", name: "state_frobnicate", sig: sigI32I32}}).encode(), Limits{},
			[]string{`unknown import weir_v1.state_frobnicate (i32) -> i32: Weir ABI v1 has no host function "state_frobnicate"`}},
		{"unknown WASI function", validModule([]testImport{{module: "wasi_snapshot_preview1", name: "path_teleport", sig: sigNone}}).encode(), Limits{},
			[]string{`unknown import wasi_snapshot_preview1.path_teleport () -> (): the host's WASI has no such function`}},
		{"wrong WASI signature", validModule([]testImport{{module: "wasi_snapshot_preview1", name: "proc_exit", sig: sigI32I32}}).encode(), Limits{},
			[]string{`import wasi_snapshot_preview1.proc_exit has the wrong signature: expected (i32) -> (), got (i32) -> i32`}},
		{"import from ABI v2", validModule([]testImport{{module: "weir_v2", name: "emit", sig: sigSockAcc}}).encode(), Limits{},
			[]string{`module "m" requires Weir ABI v2; this host serves v1`}},
		{"export of ABI v2", validModule(nil, testExport{name: "weir_v2_process", sig: wasmSig{[]byte{tI32, tI32}, []byte{tI32}}}).encode(), Limits{},
			[]string{`module "m" requires Weir ABI v2; this host serves v1`}},
		{"v2 and v3", testModule{
			imports: []testImport{{module: "weir_v3", name: "log", sig: sigNone}},
			funcs:   []testExport{{name: "weir_v2_reserve", sig: sigI32I32}}, memory: "memory", memPages: 1,
		}.encode(), Limits{}, []string{`module "m" requires Weir ABI v2 and v3; this host serves v1`}},
		{"no exports", testModule{memPages: 1}.encode(), Limits{}, []string{
			`module "m" is not a Weir ABI v1 operator (3 problems):`,
			"\n\tmissing export \"memory\" (the guest's linear memory)",
			"\n\tmissing export weir_v1_reserve (i32) -> i32",
			"\n\tmissing export weir_v1_process (i32, i32) -> i32",
		}},
		{"wrong export signatures", testModule{
			funcs: []testExport{
				{name: "weir_v1_reserve", sig: sigI32I32},
				{name: "weir_v1_process", sig: sigI32I32},
				{name: "weir_v1_init", sig: wasmSig{[]byte{tI32, tI32}, nil}},
				{name: "_initialize", sig: sigI32I32},
			}, memory: "memory", memPages: 1,
		}.encode(), Limits{}, []string{
			"(3 problems)",
			"export weir_v1_process has the wrong signature: expected (i32, i32) -> i32, got (i32) -> i32",
			"export weir_v1_init has the wrong signature: expected (i32, i32) -> i32, got (i32, i32) -> ()",
			"export _initialize has the wrong signature: expected () -> (), got (i32) -> i32",
		}},
		{"memory minimum over the limit", testModule{funcs: weirExports, memory: "memory", memPages: 100}.encode(),
			Limits{MemoryBytes: 1 << 20}, []string{`module "m" could not be compiled: `, "min 100 pages", "over limit of 16 pages"}},
	}
	e := newTestEngine(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.Load(context.Background(), "m", tt.wasm, tt.lim)
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatal("Load accepted the module")
			}
			var me *ModuleError
			if !errors.As(err, &me) || me.Module != "m" {
				t.Errorf("got %T, want a *ModuleError for module m", err)
			}
			wantSubstrings(t, err.Error(), tt.want...)
		})
	}
}

// TestLoadAccepts checks that a module with only the required exports and
// allowed imports loads, and that a guest whose reserve returns 0 fails
// Process with an error instead of writing to address 0 (§3).
func TestLoadAccepts(t *testing.T) {
	e := newTestEngine(t, Config{})
	wasm := validModule([]testImport{
		{module: "weir_v1", name: "emit", sig: wasmSig{[]byte{tI32, tI32, tI32}, []byte{tI32}}},
		{module: "weir_v1", name: "log", sig: wasmSig{[]byte{tI32, tI32, tI32}, nil}},
		{module: "wasi_snapshot_preview1", name: "fd_write", sig: wasmSig{[]byte{tI32, tI32, tI32, tI32}, []byte{tI32}}},
	}, testExport{name: "weir_v1_future", sig: sigI32I32}, testExport{name: "helper", sig: sigNone}).encode()
	m, err := e.Load(context.Background(), "minimal", wasm, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	op := newOperator(t, m, runtime.OperatorInfo{Name: "min"})
	err = newFakeEnv().process(context.Background(), op, batchOf("k", "v"))
	wantSubstrings(t, errString(err), `operator "min" (module "minimal") subtask 0: weir_v1_reserve(`, `) returned 0x0: the guest could not allocate`)
}

// TestHandWrittenGuests checks failures that Go guests cannot produce: a
// reserved buffer outside memory, a stack overflow (§9), and a declared
// memory maximum above the limit (clamped to the limit).
func TestHandWrittenGuests(t *testing.T) {
	e := newTestEngine(t, Config{})
	reserveAt := func(ptr int32) testExport {
		return testExport{name: "weir_v1_reserve", sig: sigI32I32, ret: ptr}
	}
	process := wasmSig{[]byte{tI32, tI32}, []byte{tI32}}
	tests := []struct {
		name string
		mod  testModule
		lim  Limits
		want string // substring of the Process error; "" for success
	}{
		{"reserve outside memory", // a 66-byte batch reserves 66 + 25%
			testModule{funcs: []testExport{reserveAt(0xFFF0), {name: "weir_v1_process", sig: process}},
				memory: "memory", memPages: 1}, Limits{},
			`weir_v1_reserve(82) returned 0xfff0: the buffer runs past the end of guest memory (65536 bytes)`},
		{"stack overflow", testModule{funcs: []testExport{reserveAt(1024), {name: "weir_v1_process", sig: process,
			body: []byte{0x20, 0x00, 0x20, 0x01, 0x10, 0x01}}}, // local.get 0, local.get 1, call 1 (itself)
			memory: "memory", memPages: 1}, Limits{},
			`weir_v1_process trapped: stack overflow`},
		{"maximum above the limit", testModule{funcs: []testExport{reserveAt(1024), {name: "weir_v1_process", sig: process}},
			memory: "memory", memPages: 1, memMax: 1000}, Limits{MemoryBytes: 1 << 20}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := e.Load(context.Background(), "hand", tt.mod.encode(), tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			op := newOperator(t, m, runtime.OperatorInfo{Name: "h"})
			for range 2 { // the second call runs on a fresh instance after a failure
				err := newFakeEnv().process(context.Background(), op, batchOf("k", "v"))
				if tt.want == "" && err != nil {
					t.Fatal(err)
				}
				if tt.want != "" {
					wantSubstrings(t, errString(err), tt.want)
				}
			}
		})
	}
}

// TestLimitsValidation checks that out-of-range limits are rejected.
func TestLimitsValidation(t *testing.T) {
	e := newTestEngine(t, Config{})
	wasm := validModule(nil).encode()
	tests := []struct {
		name string
		lim  Limits
		want string
	}{
		{"memory below a page", Limits{MemoryBytes: 1000}, "memory limit 1000 bytes is outside 64 KiB..4 GiB"},
		{"memory above 4 GiB", Limits{MemoryBytes: 5 << 30}, "is outside 64 KiB..4 GiB"},
		{"negative timeout", Limits{CallTimeout: -1}, "call timeout -1ns is negative"},
		{"negative byte limit", Limits{MaxEmitBytes: -1}, "negative byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Load(context.Background(), "m", wasm, tt.lim)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `load module "m"`) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestMigrateWithoutExport checks that a module without weir_v1_migrate
// refuses a migrated swap with a reason.
func TestMigrateWithoutExport(t *testing.T) {
	e := newTestEngine(t, Config{})
	m, err := e.Load(context.Background(), "minimal", validModule(nil).encode(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	op := newOperator(t, m, runtime.OperatorInfo{Name: "min"})
	err = op.(runtime.Migrator).Migrate(context.Background(), "sha256:00")
	wantSubstrings(t, errString(err), `module "minimal" does not export weir_v1_migrate: it has no migrate step`)
}
