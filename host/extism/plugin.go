package extism

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"

	extsdk "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/host/internal/guestio"
	"github.com/weirstream/weir/runtime"
)

// DefaultFunction is the plugin export that operators call once per batch
// when Options.Function is empty.
const DefaultFunction = "weir_process_batch"

// Import modules a plugin may use.
const (
	// HostModule is the import module of Weir's host functions: Extism's
	// namespace for host functions, the one every PDK can import from.
	HostModule = "extism:host/user"
	// extismEnvModule holds Extism's own functions (input, output, memory
	// blocks, config, logging), which the go-sdk provides.
	extismEnvModule = "extism:host/env"
	wasiModule      = wasi_snapshot_preview1.ModuleName
)

const (
	wasmPageBytes  = 64 << 10
	maxMemoryPages = 1 << 16
)

// wasmHeader starts every Wasm binary: the magic "\0asm" and version 1.
var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Options configure a plugin loaded by Load.
type Options struct {
	// Function is the export called once per batch (default DefaultFunction).
	// It takes no parameters and returns an i32 status (Extism's convention;
	// a function without a result counts as returning 0).
	Function string
	// Limits bound each instance, as for native Weir modules (abi/ABI.md §9);
	// zero fields take the host's defaults. MemoryBytes bounds every linear
	// memory of an instance: the plugin's and that of the Extism kernel, which
	// holds the input batch, the output and every memory block.
	Limits host.Limits
	// CacheDir, when set, keeps the compiled machine code on disk there, so
	// that loading the same plugin again (after a restart) does not compile it
	// again. Empty: the compiled code is kept in memory only.
	CacheDir string
	// Logger receives the plugin's output for operators whose OperatorInfo has
	// no Logger. Nil: slog.Default().
	Logger *slog.Logger
	// MemoryBudget bounds the guest memory of the plugin's instances, with
	// that of the other guests of the process that share it (pass the host
	// Engine's). Each instance reserves twice Limits.MemoryBytes: its own
	// memory and the Extism kernel's may each grow to the limit. Nil: a
	// budget of host.DefaultMemoryBudgetBytes of the plugin's own.
	MemoryBudget *host.MemoryBudget
}

// withDefaults returns o with zero fields set to their defaults, or an error
// naming a field that is out of range.
func (o Options) withDefaults() (Options, error) {
	if o.Function == "" {
		o.Function = DefaultFunction
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemoryBudget == nil {
		o.MemoryBudget = host.NewMemoryBudget(0)
	}
	var err error
	o.Limits, err = o.Limits.WithDefaults()
	return o, err
}

// Plugin is a compiled and checked Extism plugin. It is the
// runtime.OperatorFactory of one operator: NewOperator makes one instance per
// subtask. It is safe for concurrent use.
type Plugin struct {
	name     string
	opts     Options
	cache    wazero.CompilationCache
	compiled *extsdk.CompiledPlugin
	// batchLimits are the limits an emitted batch is validated against.
	batchLimits abi.Limits
}

var _ runtime.OperatorFactory = (*Plugin)(nil)

// Load compiles wasm, an Extism plugin, checks it and returns it ready to make
// operators. name identifies the plugin in errors and logs. A rejected module
// gives a *host.ModuleError that lists every problem: the export
// opts.Function missing or not of type () -> i32, an import from
// HostModule that is not one of Weir's host functions with its signature
// (see hostFunctions), a WASI socket function (operators have no network), or
// an import from a module other than extism:host/env, extism:host/user and
// wasi_snapshot_preview1. Load also makes one instance, so that a plugin that
// cannot be instantiated fails here rather than when the job starts.
//
// Every instance gets WASI without arguments, environment variables,
// preopened directories or sockets, and wazero's deterministic clocks and
// random source; the Extism manifest allows no HTTP host, no path, and no
// Extism vars (state goes through Weir's keyed state, which is checkpointed).
func Load(ctx context.Context, name string, wasm []byte, opts Options) (*Plugin, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("load extism plugin %q: %w", name, err)
	}
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, &host.ModuleError{Module: name, Reason: fmt.Sprintf("is not a WebAssembly module: its %d bytes do not start with the magic \\0asm and version 1", len(wasm))}
	}
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("load extism plugin %q: open compilation cache in %s: %w", name, opts.CacheDir, err)
		}
	} else {
		cache = wazero.NewCompilationCache()
	}
	p, err := load(ctx, name, wasm, opts, cache)
	if err != nil {
		_ = cache.Close(ctx)
		return nil, err
	}
	return p, nil
}

// load is Load once the options are checked and the cache is open.
func load(ctx context.Context, name string, wasm []byte, opts Options, cache wazero.CompilationCache) (*Plugin, error) {
	pages := uint32(opts.Limits.MemoryBytes / wasmPageBytes)
	// NB: the go-sdk turns the interruption of calls on only for a manifest
	// with a timeout, which also makes every call make a context of its own;
	// Process makes that context itself and asks wazero to stop the guest when
	// it is done (see Operator.Process).
	rcfg := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(pages).
		WithCompilationCache(cache)

	// Check the module with the same compiler configuration as the go-sdk's
	// runtime: it shares the cache, so the go-sdk finds the module compiled.
	check := wazero.NewRuntimeWithConfig(ctx, rcfg)
	defer check.Close(ctx)
	compiled, err := check.CompileModule(ctx, wasm)
	if err != nil {
		return nil, &host.ModuleError{Module: name, Reason: "could not be compiled", Err: err}
	}
	defer compiled.Close(ctx)
	if err := checkPlugin(name, compiled, opts.Function); err != nil {
		return nil, err
	}

	manifest := extsdk.Manifest{
		Wasm: []extsdk.Wasm{extsdk.WasmData{Data: wasm, Name: "main"}},
		// NB: MaxVarBytes 0 disables Extism vars: state kept there would be
		// neither keyed nor checkpointed. No HTTP response can arrive either:
		// AllowedHosts is empty, so every request is refused.
		Memory: &extsdk.ManifestMemory{MaxPages: pages, MaxVarBytes: 0, MaxHttpResponseBytes: 0},
	}
	cp, err := extsdk.NewCompiledPlugin(ctx, manifest, extsdk.PluginConfig{RuntimeConfig: rcfg, EnableWasi: true}, hostFunctions())
	if err != nil {
		return nil, &host.ModuleError{Module: name, Reason: "could not be prepared as an Extism plugin", Err: err}
	}
	p := &Plugin{
		name:        name,
		opts:        opts,
		cache:       cache,
		compiled:    cp,
		batchLimits: abi.Limits{MaxKeyBytes: opts.Limits.MaxKeyBytes, MaxValueBytes: opts.Limits.MaxValueBytes, MaxEntries: abi.MaxBatchEntries},
	}
	probe, err := cp.Instance(ctx, extsdk.PluginInstanceConfig{ModuleConfig: wazero.NewModuleConfig()})
	if err != nil {
		_ = cp.Close(ctx)
		return nil, &host.ModuleError{Module: name, Reason: "could not be instantiated", Err: err}
	}
	if err := probe.Close(ctx); err != nil {
		_ = cp.Close(ctx)
		return nil, fmt.Errorf("load extism plugin %q: close the test instance: %w", name, err)
	}
	return p, nil
}

// checkPlugin returns a *host.ModuleError if compiled breaks the conventions
// of docs/extism.md, or nil.
func checkPlugin(name string, compiled wazero.CompiledModule, function string) error {
	var problems []string
	for _, d := range compiled.ImportedFunctions() {
		mod, fn, _ := d.Import()
		got := sigOf(d)
		switch {
		case mod == extismEnvModule:
		case mod == HostModule:
			want, ok := hostFunctionSignature(fn)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("unknown import %s.%s %s: Weir offers no host function %q (see docs/extism.md)", mod, fn, got, fn))
			case !got.Equal(want):
				problems = append(problems, fmt.Sprintf("import %s.%s has the wrong signature: expected %s, got %s", mod, fn, want, got))
			}
		case mod == wasiModule && strings.HasPrefix(fn, "sock_"):
			problems = append(problems, fmt.Sprintf("forbidden import %s.%s %s: operators have no network access", mod, fn, got))
		case mod == wasiModule:
		default:
			problems = append(problems, fmt.Sprintf("forbidden import %s.%s %s: only %s, %s and %s functions may be imported", mod, fn, got, extismEnvModule, HostModule, wasiModule))
		}
	}
	for _, m := range compiled.ImportedMemories() {
		mod, n, _ := m.Import()
		problems = append(problems, fmt.Sprintf("forbidden import %s.%s (a memory): a plugin has its own memory", mod, n))
	}
	exports := compiled.ExportedFunctions()
	d, ok := exports[function]
	switch {
	case !ok && exports[abi.ExportProcess] != nil:
		problems = append(problems, fmt.Sprintf("missing export %s () -> i32: the module exports %s, so it is a Weir ABI module, not an Extism plugin", function, abi.ExportProcess))
	case !ok:
		problems = append(problems, fmt.Sprintf("missing export %s () -> i32 (the function called per batch)", function))
	case len(d.ParamTypes()) != 0 || len(d.ResultTypes()) > 1 || len(d.ResultTypes()) == 1 && d.ResultTypes()[0] != api.ValueTypeI32:
		problems = append(problems, fmt.Sprintf("export %s has the wrong signature: expected () -> i32, got %s", function, sigOf(d)))
	}
	if len(problems) > 0 {
		return &host.ModuleError{Module: name, Reason: "is not a Weir Extism operator", Problems: problems}
	}
	return nil
}

// Name returns the name the plugin was loaded with.
func (p *Plugin) Name() string { return p.name }

// Function returns the export called per batch.
func (p *Plugin) Function() string { return p.opts.Function }

// GuestMemoryBytes returns the most the memories of one instance may grow to
// (the plugin's and the Extism kernel's, each up to Limits.MemoryBytes),
// which each instance reserves of the MemoryBudget.
func (p *Plugin) GuestMemoryBytes() int64 { return 2 * p.opts.Limits.MemoryBytes }

// Limits returns the plugin's limits, with defaults applied.
func (p *Plugin) Limits() host.Limits { return p.opts.Limits }

// Close releases the compiled plugin and its compilation cache (the files of
// CacheDir stay). Operators made by p must be closed first.
func (p *Plugin) Close(ctx context.Context) error {
	err := p.compiled.Close(ctx)
	if cerr := p.cache.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close extism plugin %q: %w", p.name, err)
	}
	return nil
}

// signature is the type of a function (guestio.Signature), for comparison and
// messages.
type signature = guestio.Signature

var sigOf = guestio.SignatureOf
