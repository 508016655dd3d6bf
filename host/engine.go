package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/weirstream/weir/abi"
)

// Defaults of Limits (abi/ABI.md §9).
const (
	DefaultMemoryBytes    int64 = 256 << 20
	DefaultCallTimeout          = 10 * time.Second
	DefaultMaxOutputBytes       = 64 << 10
)

const (
	wasmPageBytes = 64 << 10
	// maxMemoryPages is the most a 32-bit Wasm memory can have (4 GiB).
	maxMemoryPages = 1 << 16
	wasiModule     = wasi_snapshot_preview1.ModuleName
)

// Config configures an Engine.
type Config struct {
	// CacheDir, when set, keeps compiled machine code on disk there, so that a
	// restarted process does not compile the same module again. Empty: the
	// cache is in memory only (still shared by every module of the Engine).
	CacheDir string
	// Logger receives guest output of operators whose OperatorInfo has no
	// Logger. Nil: slog.Default().
	Logger *slog.Logger
	// MemoryBudget bounds the guest memory of all the instances the Engine
	// makes (share one with the other runners of guests of the process, such
	// as host/extism). Nil: a budget of DefaultMemoryBudgetBytes of its own.
	MemoryBudget *MemoryBudget
}

// Limits bound what one module's instances may use (abi/ABI.md §9). A zero
// field takes its default.
type Limits struct {
	// MemoryBytes bounds the linear memory of each instance, in bytes, rounded
	// down to whole 64 KiB pages (default 256 MiB, at most 4 GiB). A guest that
	// grows past it sees memory.grow fail.
	MemoryBytes int64
	// CallTimeout bounds each call into the guest (default 10 s). A call that
	// runs longer is interrupted, fails, and its instance is replaced.
	CallTimeout time.Duration
	// MaxEmitBytes bounds the sum of the batch bytes a guest emits in one call
	// (default abi.MaxEmitBytes).
	MaxEmitBytes int
	// MaxKeyBytes bounds user keys of state calls and the keys of emitted
	// records (default abi.MaxKeyBytes).
	MaxKeyBytes int
	// MaxValueBytes bounds state values and the values of emitted records
	// (default abi.MaxValueBytes).
	MaxValueBytes int
	// MaxOutputBytes bounds what one call may write to the log through stdout,
	// stderr and the log host function (default 64 KiB); the rest is dropped
	// and one "output truncated" line says so.
	MaxOutputBytes int
}

// WithDefaults returns l with zero fields set to their defaults, or an error
// naming a field that is out of range. Engine.Load applies it; so does any
// other runner of guests that takes Limits (host/extism).
func (l Limits) WithDefaults() (Limits, error) {
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemoryBytes
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = DefaultCallTimeout
	}
	if l.MaxEmitBytes == 0 {
		l.MaxEmitBytes = abi.MaxEmitBytes
	}
	if l.MaxKeyBytes == 0 {
		l.MaxKeyBytes = abi.MaxKeyBytes
	}
	if l.MaxValueBytes == 0 {
		l.MaxValueBytes = abi.MaxValueBytes
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = DefaultMaxOutputBytes
	}
	var errs []error
	if l.MemoryBytes < wasmPageBytes || l.MemoryBytes > maxMemoryPages*wasmPageBytes {
		errs = append(errs, fmt.Errorf("memory limit %d bytes is outside 64 KiB..4 GiB", l.MemoryBytes))
	}
	if l.CallTimeout < 0 {
		errs = append(errs, fmt.Errorf("call timeout %v is negative", l.CallTimeout))
	}
	if l.MaxEmitBytes < 0 || l.MaxKeyBytes < 0 || l.MaxValueBytes < 0 || l.MaxOutputBytes < 0 {
		errs = append(errs, fmt.Errorf("negative byte limit in %+v", l))
	}
	if l.MaxEmitBytes > math.MaxUint32 {
		// NB: an emitted batch lives in 32-bit guest memory; a larger bound means nothing.
		l.MaxEmitBytes = math.MaxUint32
	}
	return l, errors.Join(errs...)
}

// memoryPages returns MemoryBytes in whole Wasm pages.
func (l Limits) memoryPages() uint32 { return uint32(l.MemoryBytes / wasmPageBytes) }

// Engine compiles and runs Weir operator modules. It owns one wazero runtime
// per distinct memory limit (wazero sets the limit per runtime), all sharing one
// compilation cache. It is safe for concurrent use.
type Engine struct {
	logger *slog.Logger
	cache  wazero.CompilationCache
	budget *MemoryBudget

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*wasmRuntime // by memory limit in pages
}

// wasmRuntime is a wazero runtime with WASI and the weir_v1 host module.
type wasmRuntime struct {
	r wazero.Runtime
	// wasiFuncs are the functions of wasi_snapshot_preview1 that wazero
	// provides, to check a module's WASI imports at load time.
	wasiFuncs map[string]api.FunctionDefinition
}

// NewEngine returns an Engine; call Close to release it.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	e := &Engine{logger: cfg.Logger, budget: cfg.MemoryBudget, runtimes: map[uint32]*wasmRuntime{}}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.budget == nil {
		e.budget = NewMemoryBudget(0)
	}
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache in %s: %w", cfg.CacheDir, err)
		}
		e.cache = c
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	return e, nil
}

// MemoryBudget returns the guest memory budget of e's instances.
func (e *Engine) MemoryBudget() *MemoryBudget { return e.budget }

// Close closes every module and instance of e and the compilation cache (the
// files of CacheDir stay for the next Engine).
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	for _, rt := range e.runtimes {
		if err := rt.r.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	e.runtimes = nil
	if err := e.cache.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close wasm engine: %w", err)
	}
	return nil
}

// runtimeFor returns the runtime of memory limit pages, creating it on first use.
func (e *Engine) runtimeFor(ctx context.Context, pages uint32) (*wasmRuntime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("wasm engine is closed")
	}
	if rt, ok := e.runtimes[pages]; ok {
		return rt, nil
	}
	rcfg := wazero.NewRuntimeConfigCompiler().
		// NB: Load instruments every module for the call time limit (see
		// instrument); wazero's own termination checks would exit to Go at
		// every loop iteration and start a goroutine per call.
		WithCloseOnContextDone(false).
		WithMemoryLimitPages(pages).
		WithCompilationCache(e.cache)
	r := wazero.NewRuntimeWithConfig(ctx, rcfg)
	_, err := wasi_snapshot_preview1.Instantiate(ctx, r)
	if err == nil {
		_, err = newHostModule(r).Instantiate(ctx)
	}
	if err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("set up wasm runtime for %d pages: %w", pages, err)
	}
	rt := &wasmRuntime{r: r, wasiFuncs: r.Module(wasiModule).ExportedFunctionDefinitions()}
	e.runtimes[pages] = rt
	return rt, nil
}
