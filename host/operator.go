package host

import (
	"context"
	"fmt"
	"github.com/weirstream/weir/host/internal/guestio"
	"log/slog"
	"math"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

var _ runtime.OperatorFactory = (*Module)(nil)

// NewOperator returns the operator of one subtask: a fresh instance of m with
// no arguments, no environment variables, no preopened directories, wazero's
// deterministic clock and random source, and its stdout and stderr going to
// the logger (info.Logger, else the Engine's). It runs _initialize, then
// weir_v1_init with info.Config if the module exports it; a failure there is
// a *runtime.OperatorError.
func (m *Module) NewOperator(ctx context.Context, info runtime.OperatorInfo) (runtime.Operator, error) {
	logger := info.Logger
	if logger == nil {
		logger = m.engine.logger
	}
	o := &operator{
		module: m,
		info:   info,
		lim:    m.lim,
		logger: logger.With(slog.String("operator", info.Name), slog.Int("subtask", info.Subtask), slog.String("module", m.name)),
	}
	in, err := o.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	o.inst = in
	return o, nil
}

// operator is one subtask's instance of a Module. It implements
// runtime.Operator and is used from one goroutine at a time.
type operator struct {
	module *Module
	info   runtime.OperatorInfo
	lim    Limits
	logger *slog.Logger
	// inst is nil after a trap or a time-out until the next Process makes a
	// fresh instance.
	inst   *instance
	closed bool
}

// instance is one wazero instance of the module with the state of the call in
// progress, which the host functions read and update.
type instance struct {
	op      *operator
	mod     api.Module
	mem     api.Memory
	reserve api.Function
	process api.Function
	init    api.Function // nil if not exported
	// ctx is passed to every call into the guest: the host functions find the
	// instance in it. It is never cancelled: irq interrupts the guest.
	ctx context.Context
	// lease is the instance's share of the Engine's MemoryBudget; its
	// allocator backs the instance's memory.
	lease *MemoryLease
	// irq stops a call at Limits.CallTimeout or when the caller's context is
	// done; nil until the module is instantiated.
	irq *interrupter
	// interrupted is why irq stopped the last call that failed, or nil.
	interrupted error
	// growFailed is the global growFailedExport: the pages of the last
	// memory.grow that failed during the call, or 0.
	growFailed api.MutableGlobal
	stack      [2]uint64
	// bufPtr and bufCap are the buffer of the last weir_v1_reserve.
	bufPtr, bufCap uint32

	// The call in progress.
	env      runtime.Env // nil outside weir_v1_process: state, timers and emit are NOT_ALLOWED
	count    uint32      // entries in the batch
	emitted  int         // batch bytes emitted so far
	errMsg   []byte      // from set_error
	internal struct {    // the first host function that got INTERNAL from the Env
		fn    string
		entry int // -1 if the call has no entry
	}
	rejected struct { // the first rejection with a reason (MALFORMED, LIMIT_EXCEEDED of emit)
		code abi.Code
		err  error
	}
	scan scanState
	out  guestio.Output
}

// instantiate makes a fresh instance and runs its initialisation: the start
// function if the module has one (see instrument), _initialize and
// weir_v1_init.
func (o *operator) instantiate(ctx context.Context) (*instance, error) {
	m := o.module
	lease, err := m.engine.budget.Reserve(o.info, m.name, m.memoryBytes)
	if err != nil {
		return nil, err
	}
	in := &instance{op: o, lease: lease, out: guestio.Output{Logger: o.logger, Budget: o.lim.MaxOutputBytes, What: "guest"}}
	// NB: the instance key goes last, so that host functions find it first.
	in.ctx = context.WithValue(lease.WithAllocator(context.Background()), instanceKey{}, in)
	in.scan.fn = in.scanPair

	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: many instances of one module share a runtime
		WithStartFunctions(). // _initialize is called below, under the call time limit
		WithStdout(in.out.Stdout()).
		WithStderr(in.out.Stderr())
	// NB: wazero's defaults are what ABI.md §7 asks for: no args, no env, no
	// preopens, a fake wall clock (2022-01-01 + 1 ms per reading), a fake
	// monotonic clock (+1 ms per reading), sleep that returns at once, and a
	// math/rand source with a fixed seed for random_get.
	// NB: no guest code runs here: instrument turned a start section into an
	// export, called below under the call time limit.
	mod, err := m.rt.r.InstantiateModule(in.ctx, m.compiled, cfg)
	if err != nil {
		in.close()
		return nil, fmt.Errorf("instantiate module %q for operator %q subtask %d: %w", m.name, o.info.Name, o.info.Subtask, err)
	}
	in.mod = mod
	flag, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
	if !ok {
		in.close()
		return nil, fmt.Errorf("instantiate module %q for operator %q subtask %d: the instrumented module has no mutable global %q", m.name, o.info.Name, o.info.Subtask, interruptExport)
	}
	in.irq = newInterrupter(flag)
	if in.growFailed, ok = mod.ExportedGlobal(growFailedExport).(api.MutableGlobal); !ok {
		in.close()
		return nil, fmt.Errorf("instantiate module %q for operator %q subtask %d: the instrumented module has no mutable global %q", m.name, o.info.Name, o.info.Subtask, growFailedExport)
	}
	in.mem = mod.ExportedMemory(abi.ExportMemory)
	in.reserve = mod.ExportedFunction(abi.ExportReserve)
	in.process = mod.ExportedFunction(abi.ExportProcess)
	if m.hasInit {
		in.init = mod.ExportedFunction(abi.ExportInit)
	}
	if m.hasStart {
		in.begin(nil, 0)
		if err := in.call(ctx, mod.ExportedFunction(startExport), nil); err != nil {
			cause := in.interrupted
			in.close()
			switch cause {
			case errCallTimeout:
				err = fmt.Errorf("start function exceeded the time limit of %v", o.lim.CallTimeout)
			case errCallerCanceled:
				err = fmt.Errorf("start function interrupted: %w", context.Cause(ctx))
			default:
				err = fmt.Errorf("start function failed: %w", err)
			}
			return nil, fmt.Errorf("instantiate module %q for operator %q subtask %d: %w", m.name, o.info.Name, o.info.Subtask, err)
		}
	}
	if err := in.initialize(ctx); err != nil {
		in.close()
		return nil, err
	}
	return in, nil
}

// initialize runs _initialize and weir_v1_init (abi/ABI.md §10 steps 1-2).
func (in *instance) initialize(ctx context.Context) error {
	o := in.op
	if f := in.mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if err := in.call(ctx, f, nil); err != nil {
			return o.callError(ctx, in, nil, err, "_initialize")
		}
	}
	if in.init == nil {
		return nil
	}
	cfg := o.info.Config
	if uint64(len(cfg)) > math.MaxUint32 {
		return fmt.Errorf("operator %q subtask %d: configuration of %d bytes does not fit guest memory", o.info.Name, o.info.Subtask, len(cfg))
	}
	return in.callWithInput(ctx, in.init, abi.ExportInit, "", cfg)
}

// callWithInput calls the export f (named export) as (ptr, len) with input
// written into a reserved buffer and fails on a trap or a status other than
// OK. An empty input is passed as (0, 0) without a reserve call, so that a
// guest need not allocate for nothing. what, if not empty, is added to the
// status error ("<export> <what> returned ...").
func (in *instance) callWithInput(ctx context.Context, f api.Function, export, what string, input []byte) error {
	o := in.op
	var ptr uint32
	if len(input) > 0 {
		if err := in.reserveBuf(ctx, uint32(len(input))); err != nil {
			return err
		}
		ptr = in.bufPtr
		in.mem.Write(ptr, input) // INVARIANT: reserveBuf checked that [ptr, ptr+len) is in memory
	}
	in.begin(nil, 0)
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(input))
	if err := in.call(ctx, f, in.stack[:]); err != nil {
		return o.callError(ctx, in, nil, err, export)
	}
	if status := abi.Code(uint32(in.stack[0])); status != abi.OK {
		if what != "" {
			export += " " + what
		}
		return &runtime.OperatorError{
			Operator: o.info.Name, Module: o.module.name, Subtask: o.info.Subtask, Entry: -1, Code: status,
			Err: fmt.Errorf("%s returned %w", export, in.statusError(status)),
		}
	}
	return nil
}

// live returns the operator's instance, making a fresh one after a trap or
// a time-out.
func (o *operator) live(ctx context.Context) (*instance, error) {
	if o.inst == nil {
		in, err := o.instantiate(ctx)
		if err != nil {
			return nil, err
		}
		o.inst = in
	}
	return o.inst, nil
}

var _ runtime.Migrator = (*operator)(nil)

// Migrate runs the guest's weir_v1_migrate with the id of the module this
// instance takes over from (abi/ABI.md §3): a hot swap asked to migrate goes
// ahead only if every new instance returns OK. A module without the export
// has no migrate step, which refuses such a swap.
func (o *operator) Migrate(ctx context.Context, from string) error {
	if !o.module.hasMigrate {
		return fmt.Errorf("module %q does not export %s: it has no migrate step (swap without migrate)", o.module.name, abi.ExportMigrate)
	}
	in, err := o.live(ctx)
	if err != nil {
		return err
	}
	return in.callWithInput(ctx, in.mod.ExportedFunction(abi.ExportMigrate), abi.ExportMigrate, "from "+from, []byte(from))
}

// Process runs one batch through the guest (abi/ABI.md §10 step 3). It fails
// with a *runtime.OperatorError when the guest traps, runs out of time,
// returns a non-zero status, or a host function got INTERNAL from env.
func (o *operator) Process(ctx context.Context, batch []byte, env runtime.Env) error {
	if o.closed {
		return fmt.Errorf("operator %q subtask %d: process after close", o.info.Name, o.info.Subtask)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("operator %q subtask %d: %w", o.info.Name, o.info.Subtask, context.Cause(ctx))
	}
	if len(batch) < abi.BatchHeaderSize || uint64(len(batch)) > math.MaxUint32 {
		return fmt.Errorf("operator %q subtask %d: batch of %d bytes is not between the %d-byte header and 4 GiB", o.info.Name, o.info.Subtask, len(batch), abi.BatchHeaderSize)
	}
	in, err := o.live(ctx)
	if err != nil {
		return err
	}
	n := uint32(len(batch))
	if n > in.bufCap {
		if err := in.reserveBuf(ctx, n); err != nil {
			return err
		}
	}
	in.mem.Write(in.bufPtr, batch) // INVARIANT: reserveBuf checked that the buffer is in memory
	in.begin(env, uint32(abi.Count(batch)))
	in.stack[0], in.stack[1] = uint64(in.bufPtr), uint64(n)
	err = in.call(ctx, in.process, in.stack[:])
	in.env = nil
	if err != nil {
		return o.callError(ctx, in, batch, err, abi.ExportProcess)
	}
	if in.internal.fn != "" {
		oe := o.entryError(batch, in.internal.entry)
		oe.Code = abi.Internal
		oe.Err = fmt.Errorf("host function %s failed with INTERNAL (a host failure such as a state storage error), so the call fails whatever the guest returned (status %d)",
			in.internal.fn, uint32(in.stack[0]))
		return oe
	}
	if in.rejected.err != nil && abi.Code(uint32(in.stack[0])) == abi.OK {
		// NB: a rejected emit lost records; a guest that ignores the code must not
		// turn that into silent data loss (ABI.md §8).
		oe := o.entryError(batch, -1)
		oe.Code = in.rejected.code
		oe.Err = fmt.Errorf("the guest returned OK after the host rejected its emitted records: %w", in.rejected.err)
		return oe
	}
	if status := abi.Code(uint32(in.stack[0])); status != abi.OK {
		oe := o.entryError(batch, in.cursor(batch))
		oe.Code = status
		oe.Err = in.statusError(status)
		return oe
	}
	return nil
}

// Close releases the instance. The operator cannot be used afterwards.
func (o *operator) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	if in := o.inst; in != nil {
		o.inst = nil
		return in.close()
	}
	return nil
}

// drop closes in, which is unusable; the next Process makes a fresh instance.
func (o *operator) drop(in *instance) {
	if o.inst == in {
		o.inst = nil
	}
	if err := in.close(); err != nil {
		o.logger.Warn("closing a discarded wasm instance failed", slog.Any("error", err))
	}
}

// close releases the instance, its memory and its share of the memory
// budget; it may be called more than once.
func (in *instance) close() error {
	if in.irq != nil {
		in.irq.close()
	}
	// NB: the lease goes back after the memory is unmapped (wazero frees it
	// when the module closes).
	defer in.lease.Release()
	if in.mod == nil {
		return nil
	}
	mod := in.mod
	in.mod = nil
	return mod.Close(context.Background())
}

// begin resets the per-call state.
func (in *instance) begin(env runtime.Env, count uint32) {
	in.env, in.count, in.emitted = env, count, 0
	in.errMsg = in.errMsg[:0]
	in.internal.fn, in.internal.entry = "", 0
	in.rejected.code, in.rejected.err = 0, nil
}

// call runs f under the call time limit and the caller's context. An error
// from it means the instance is unusable (trap, exit, time-out, cancel); if
// the interrupter stopped the guest, in.interrupted says why.
func (in *instance) call(ctx context.Context, f api.Function, stack []uint64) error {
	in.out.Reset()
	if in.growFailed.Get() != 0 {
		in.growFailed.Set(0)
	}
	in.irq.begin(ctx, in.op.lim.CallTimeout)
	err := f.CallWithStack(in.ctx, stack)
	cause := in.irq.end()
	in.out.Flush()
	if err != nil {
		in.interrupted = cause
	}
	return err
}

// reserveBuf calls weir_v1_reserve for at least n bytes (with some headroom,
// so that slowly growing batches do not reserve every time) and checks that
// the buffer it returns lies in guest memory.
func (in *instance) reserveBuf(ctx context.Context, n uint32) error {
	o := in.op
	want := uint32(min(uint64(n)+uint64(n)/4, math.MaxUint32))
	in.begin(nil, 0)
	in.stack[0] = uint64(want)
	if err := in.call(ctx, in.reserve, in.stack[:]); err != nil {
		return o.callError(ctx, in, nil, err, abi.ExportReserve)
	}
	ptr := uint32(in.stack[0])
	var problem string
	switch {
	case ptr == 0:
		problem = "the guest could not allocate"
	case uint64(ptr)+uint64(want) > uint64(in.mem.Size()):
		problem = fmt.Sprintf("the buffer runs past the end of guest memory (%d bytes)", in.mem.Size())
	}
	if problem != "" {
		o.drop(in)
		return &runtime.OperatorError{Operator: o.info.Name, Module: o.module.name, Subtask: o.info.Subtask, Entry: -1,
			Err: fmt.Errorf("%s(%d) returned %#x: %s", abi.ExportReserve, want, ptr, problem)}
	}
	in.bufPtr, in.bufCap = ptr, want
	return nil
}

// cursor returns the entry index the guest stored in the batch header in its
// memory (abi/ABI.md §4.4), or -1 if there is none or it is out of range.
func (in *instance) cursor(batch []byte) int {
	c, ok := in.mem.ReadUint32Le(in.bufPtr + abi.OffCursor)
	if !ok || batch == nil || int64(c) >= int64(abi.Count(batch)) {
		return -1
	}
	return int(c)
}

// entryError returns an OperatorError for entry i of batch (-1: unknown).
func (o *operator) entryError(batch []byte, i int) *runtime.OperatorError {
	return guestio.EntryError(o.info, o.module.name, batch, i)
}

// callError turns the error of a call into guest export fn into the error
// Process returns, and discards the instance, which is unusable after it.
func (o *operator) callError(ctx context.Context, in *instance, batch []byte, err error, fn string) error {
	cursor := -1
	if batch != nil {
		cursor = in.cursor(batch)
	}
	panicLine := in.out.PanicLine()
	cause := in.interrupted
	// NB: read before drop, which frees the memory.
	growFailed, memBytes := uint32(in.growFailed.Get()), in.mem.Size()
	o.drop(in)
	if cause == errCallerCanceled {
		return fmt.Errorf("operator %q subtask %d: %s interrupted: %w", o.info.Name, o.info.Subtask, fn, context.Cause(ctx))
	}
	oe := o.entryError(batch, cursor)
	if cause == errCallTimeout {
		oe.Err = fmt.Errorf("call exceeded the time limit of %v", o.lim.CallTimeout)
	} else if growFailed != 0 {
		oe.Err = fmt.Errorf("%w: memory.grow by %s failed with the memory at %s, its limit being %s: %w",
			ErrGuestMemoryExhausted, plural(int(growFailed), "page"), FormatBytes(int64(memBytes)), FormatBytes(o.module.memoryBytes), guestio.TrapError(fn, "guest", err, panicLine))
	} else {
		oe.Err = guestio.TrapError(fn, "guest", err, panicLine)
	}
	return oe
}

// statusError describes a non-zero status returned by the guest.
func (in *instance) statusError(status abi.Code) error {
	if !status.Known() || status > math.MaxUint16 {
		return fmt.Errorf("unknown status code %d", uint32(status))
	}
	name := status.String()
	if status < abi.FirstGuestCode {
		name = fmt.Sprintf("%s(%d)", status, uint32(status))
	}
	switch msg := string(in.errMsg); {
	case in.rejected.err != nil && in.rejected.code == status && msg != "":
		return fmt.Errorf("status %s: %s: %w", name, msg, in.rejected.err)
	case in.rejected.err != nil && in.rejected.code == status:
		return fmt.Errorf("status %s: %w", name, in.rejected.err)
	case msg != "":
		return fmt.Errorf("status %s: %s", name, msg)
	}
	return fmt.Errorf("status %s", name)
}

// plural renders n things.
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
