package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host/internal/guestio"
)

// Module is a compiled and validated operator module. It is the
// runtime.OperatorFactory of the operator: NewOperator makes one instance per
// subtask. It is safe for concurrent use.
type Module struct {
	name     string
	engine   *Engine
	rt       *wasmRuntime
	compiled wazero.CompiledModule
	lim      Limits
	// batchLimits are the limits an emitted batch is validated against.
	batchLimits abi.Limits
	// memoryBytes is the most an instance's memory may grow to: the limit,
	// or the smaller maximum the module declares. Each instance reserves it
	// of the Engine's MemoryBudget.
	memoryBytes int64
	hasInit     bool // exports weir_v1_init
	hasMigrate  bool // exports weir_v1_migrate
	hasStart    bool // has a start function, exported as startExport by instrument
}

// ModuleError says why Load rejected a module: it is not WebAssembly, it does
// not compile, or it breaks ABI v1 (abi/ABI.md §2, §3, §5, §7.2). Problems lists
// every violation found, so that one round trip shows all of them.
type ModuleError struct {
	Module   string   // the name given to Load
	Reason   string   // what is wrong, e.g. "is not a Weir ABI v1 operator" or "could not be compiled"
	Problems []string // each forbidden import, missing or wrong export
	Err      error    // the compiler's error, if that is the reason
}

// Error renders the reason, then the problems one per line.
func (e *ModuleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %q %s", e.Module, e.Reason)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	switch len(e.Problems) {
	case 0:
	case 1:
		b.WriteString(": ")
		b.WriteString(e.Problems[0])
	default:
		fmt.Fprintf(&b, " (%d problems):", len(e.Problems))
		for _, p := range e.Problems {
			b.WriteString("\n\t")
			b.WriteString(p)
		}
	}
	return b.String()
}

// Unwrap returns the compiler's error, if any.
func (e *ModuleError) Unwrap() error { return e.Err }

// wasmHeader starts every Wasm binary: the magic "\0asm" and version 1.
var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Load instruments wasm for the call time limit (see the package
// documentation), compiles it, checks that it is a Weir ABI v1 operator and
// returns it ready to instantiate. name identifies the module in errors and
// logs. A rejected module gives a *ModuleError that lists every problem:
// forbidden or mistyped imports (only the weir_v1 host functions and the
// non-socket functions of wasi_snapshot_preview1 may be imported), a different
// ABI version, missing or mistyped exports, and exports whose names start with
// "weir.", which the host reserves. Zero fields of lim take their defaults.
func (e *Engine) Load(ctx context.Context, name string, wasm []byte, lim Limits) (*Module, error) {
	lim, err := lim.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("load module %q: %w", name, err)
	}
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, &ModuleError{Module: name, Reason: fmt.Sprintf("is not a WebAssembly module: its %d bytes do not start with the magic \\0asm and version 1", len(wasm))}
	}
	rt, err := e.runtimeFor(ctx, lim.memoryPages())
	if err != nil {
		return nil, fmt.Errorf("load module %q: %w", name, err)
	}
	inst, err := instrument(wasm)
	if err != nil {
		return nil, diagnose(ctx, name, wasm, lim, rt, err)
	}
	compiled, err := rt.r.CompileModule(ctx, inst.wasm)
	if err != nil {
		return nil, diagnose(ctx, name, wasm, lim, rt, fmt.Errorf("the instrumented module does not compile: %w", err))
	}
	others, err := nonFunctionImports(wasm)
	if err == nil {
		err = checkModule(name, compiled, others, rt.wasiFuncs, nil)
	}
	if err == nil && inst.hasStart {
		if d, ok := compiled.ExportedFunctions()[startExport]; !ok || !sigOf(d).Equal(signature{}) {
			err = diagnose(ctx, name, wasm, lim, rt, errors.New("the start function does not have the type () -> ()"))
		}
	}
	if err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	_, hasInit := compiled.ExportedFunctions()[abi.ExportInit]
	_, hasMigrate := compiled.ExportedFunctions()[abi.ExportMigrate]
	memoryBytes := int64(lim.memoryPages()) * wasmPageBytes
	if max, ok := compiled.ExportedMemories()[abi.ExportMemory].Max(); ok && int64(max)*wasmPageBytes < memoryBytes {
		memoryBytes = int64(max) * wasmPageBytes
	}
	return &Module{
		name:        name,
		engine:      e,
		rt:          rt,
		compiled:    compiled,
		lim:         lim,
		batchLimits: abi.Limits{MaxKeyBytes: lim.MaxKeyBytes, MaxValueBytes: lim.MaxValueBytes, MaxEntries: abi.MaxBatchEntries},
		memoryBytes: memoryBytes,
		hasInit:     hasInit,
		hasMigrate:  hasMigrate,
		hasStart:    inst.hasStart,
	}, nil
}

// diagnose explains why Load could not instrument or compile wasm; cause is
// what went wrong. It validates the original module with wazero's
// interpreter (quick, and it leaves the compilation cache alone, which holds
// only instrumented modules): wazero's error on the module the user wrote
// beats any error on its rewrite. If the original is valid, it lists the
// module's ABI problems, with a reserved export name among them, or else
// reports cause.
func diagnose(ctx context.Context, name string, wasm []byte, lim Limits, rt *wasmRuntime, cause error) error {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithMemoryLimitPages(lim.memoryPages()))
	defer r.Close(ctx)
	compiled, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return &ModuleError{Module: name, Reason: "could not be compiled", Err: err}
	}
	var problems []string
	if re := (*reservedExportError)(nil); errors.As(cause, &re) {
		problems = append(problems, re.Error())
	}
	others, err := nonFunctionImports(wasm)
	if err == nil {
		err = checkModule(name, compiled, others, rt.wasiFuncs, problems)
	}
	if err != nil {
		return err
	}
	return &ModuleError{Module: name, Reason: "could not be instrumented for the call time limit", Err: cause}
}

// Name returns the name the module was loaded with.
func (m *Module) Name() string { return m.name }

// Limits returns the module's limits, with defaults applied.
func (m *Module) Limits() Limits { return m.lim }

// GuestMemoryBytes returns the most the memory of one instance may grow to,
// which each instance reserves of the Engine's MemoryBudget.
func (m *Module) GuestMemoryBytes() int64 { return m.memoryBytes }

// Close releases the compiled code. Operators made by m must be closed first.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// signature is the type of a function (guestio.Signature), for comparison and
// messages.
type signature = guestio.Signature

var sigOf = guestio.SignatureOf

// requiredExports and optionalExports are the guest exports of ABI.md §3.
var (
	requiredExports = []struct {
		name string
		sig  signature
	}{
		{abi.ExportReserve, signature{Params: []api.ValueType{i32}, Results: []api.ValueType{i32}}},
		{abi.ExportProcess, signature{Params: []api.ValueType{i32, i32}, Results: []api.ValueType{i32}}},
	}
	optionalExports = []struct {
		name string
		sig  signature
	}{
		{abi.ExportInit, signature{Params: []api.ValueType{i32, i32}, Results: []api.ValueType{i32}}},
		{abi.ExportMigrate, signature{Params: []api.ValueType{i32, i32}, Results: []api.ValueType{i32}}},
		{abi.ExportInitialize, signature{}},
	}
)

// checkModule returns a *ModuleError if compiled breaks ABI v1 or problems
// (found by the caller) is not empty, or nil.
func checkModule(name string, compiled wazero.CompiledModule, others []wasmImport, wasiFuncs map[string]api.FunctionDefinition, problems []string) error {
	versions := map[int]bool{}
	noteVersion := func(s string) bool {
		if n, ok := abiVersion(s); ok && n != abi.Version {
			versions[n] = true
			return true
		}
		return false
	}
	for _, d := range compiled.ImportedFunctions() {
		mod, fn, _ := d.Import()
		got := sigOf(d)
		what := fmt.Sprintf("%s.%s %s", mod, fn, got)
		switch {
		case noteVersion(mod + "_"):
		case mod == abi.ImportModule:
			hf, ok := hostFuncByName(fn)
			if !ok {
				problems = append(problems, fmt.Sprintf("unknown import %s: Weir ABI v1 has no host function %q", what, fn))
			} else if want := (signature{Params: hf.params, Results: hf.results}); !got.Equal(want) {
				problems = append(problems, fmt.Sprintf("import %s.%s has the wrong signature: expected %s, got %s", mod, fn, want, got))
			}
		case mod == wasiModule && strings.HasPrefix(fn, "sock_"):
			problems = append(problems, fmt.Sprintf("forbidden import %s: operators have no network access (abi/ABI.md §7.2)", what))
		case mod == wasiModule:
			wd, ok := wasiFuncs[fn]
			if !ok {
				problems = append(problems, fmt.Sprintf("unknown import %s: the host's WASI has no such function", what))
			} else if want := sigOf(wd); !got.Equal(want) {
				problems = append(problems, fmt.Sprintf("import %s.%s has the wrong signature: expected %s, got %s", mod, fn, want, got))
			}
		default:
			problems = append(problems, fmt.Sprintf("forbidden import %s: only weir_v1 and wasi_snapshot_preview1 functions may be imported", what))
		}
	}
	for _, imp := range others {
		if noteVersion(imp.module + "_") {
			continue
		}
		problems = append(problems, fmt.Sprintf("forbidden import %s.%s (a %s): only functions may be imported", imp.module, imp.name, imp.kind))
	}
	exports := compiled.ExportedFunctions()
	for exp := range exports {
		noteVersion(exp)
	}
	for exp := range compiled.ExportedMemories() {
		noteVersion(exp)
	}
	if len(versions) > 0 {
		vs := make([]string, 0, len(versions))
		for _, n := range slices.Sorted(maps.Keys(versions)) {
			vs = append(vs, "v"+strconv.Itoa(n))
		}
		return &ModuleError{Module: name, Reason: fmt.Sprintf("requires Weir ABI %s; this host serves v%d", strings.Join(vs, " and "), abi.Version)}
	}
	if _, ok := compiled.ExportedMemories()[abi.ExportMemory]; !ok {
		problems = append(problems, fmt.Sprintf("missing export %q (the guest's linear memory)", abi.ExportMemory))
	}
	for _, r := range requiredExports {
		d, ok := exports[r.name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing export %s %s", r.name, r.sig))
		case !sigOf(d).Equal(r.sig):
			problems = append(problems, fmt.Sprintf("export %s has the wrong signature: expected %s, got %s", r.name, r.sig, sigOf(d)))
		}
	}
	for _, o := range optionalExports {
		if d, ok := exports[o.name]; ok && !sigOf(d).Equal(o.sig) {
			problems = append(problems, fmt.Sprintf("export %s has the wrong signature: expected %s, got %s", o.name, o.sig, sigOf(d)))
		}
	}
	if len(problems) > 0 {
		return &ModuleError{Module: name, Reason: "is not a Weir ABI v1 operator", Problems: problems}
	}
	return nil
}

// abiVersion recognises "weir_vN_..." (an import module gets a "_" appended)
// and returns N.
func abiVersion(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, "weir_v")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "_")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 || digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, false
	}
	return n, true
}
