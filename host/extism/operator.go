package extism

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/weirstream/weir/host/internal/guestio"
	"log/slog"
	"math"

	extsdk "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
)

// errCallTimeout is the cause of the context of a call that ran past
// Limits.CallTimeout.
var errCallTimeout = errors.New("call time limit reached")

// NewOperator returns the operator of one subtask: a fresh instance of the
// plugin whose stdout, stderr and log go to info.Logger (else the Options'
// logger). info.Config, the operator's configuration as JSON, becomes the
// plugin's Extism config (what pdk.GetConfig reads): it must be empty or a
// JSON object; each member becomes a key, with a string member's value as
// its value and any other member's value as its JSON text.
func (p *Plugin) NewOperator(ctx context.Context, info runtime.OperatorInfo) (runtime.Operator, error) {
	cfg, err := extismConfig(info.Config)
	if err != nil {
		return nil, fmt.Errorf("operator %q subtask %d: %w", info.Name, info.Subtask, err)
	}
	logger := info.Logger
	if logger == nil {
		logger = p.opts.Logger
	}
	o := &operator{
		plugin: p,
		info:   info,
		lim:    p.opts.Limits,
		config: cfg,
		logger: logger.With(slog.String("operator", info.Name), slog.Int("subtask", info.Subtask), slog.String("module", p.name)),
	}
	in, err := o.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	o.inst = in
	return o, nil
}

// extismConfig turns an operator's JSON configuration into Extism config.
func extismConfig(raw []byte) (map[string]string, error) {
	cfg := map[string]string{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return cfg, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, fmt.Errorf("the configuration of an Extism operator must be a JSON object (its members become Extism config keys): %.100q", raw)
	}
	for k, v := range members {
		var s string
		if json.Unmarshal(v, &s) == nil {
			cfg[k] = s
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return nil, fmt.Errorf("configuration member %q: %w", k, err)
		}
		cfg[k] = b.String()
	}
	return cfg, nil
}

// operator is one subtask's instance of a Plugin. It implements
// runtime.Operator and is used from one goroutine at a time.
type operator struct {
	plugin *Plugin
	info   runtime.OperatorInfo
	lim    host.Limits
	config map[string]string
	logger *slog.Logger
	// inst is nil after a trap or a time-out until the next Process makes a
	// fresh instance.
	inst   *instance
	closed bool
}

// instance is one go-sdk instance of the plugin with the state of the call
// in progress, which the host functions read and update.
type instance struct {
	op *operator
	p  *extsdk.Plugin
	// lease is the instance's share of the guest memory budget; its
	// allocator backs the instance's memories.
	lease *host.MemoryLease

	// The call in progress.
	env      runtime.Env // nil outside Process: state, timers and emit are NOT_ALLOWED
	count    uint32      // entries in the batch
	cursor   int         // the entry named by weir_v1_cursor, or -1
	emitted  int         // batch bytes emitted so far, output included
	internal struct {    // the first host function that got INTERNAL from the Env
		fn    string
		entry int // -1 if the call has no entry
	}
	rejected struct { // the first rejected emit, with its reason
		code abi.Code
		err  error
	}
	scan scanState
	out  guestio.Output
}

// instantiate makes a fresh instance. The plugin's own initialisation
// (_initialize of a WASI reactor) runs in its first call, under the call
// time limit.
func (o *operator) instantiate(ctx context.Context) (*instance, error) {
	lease, err := o.plugin.opts.MemoryBudget.Reserve(o.info, o.plugin.name, o.plugin.GuestMemoryBytes())
	if err != nil {
		return nil, err
	}
	in := &instance{op: o, lease: lease, cursor: -1, out: guestio.Output{Logger: o.logger, Budget: o.lim.MaxOutputBytes, What: "plugin"}}
	in.scan.fn = in.scanPair
	// NB: wazero's defaults are what abi/ABI.md §7 asks for: no arguments, no
	// environment, no preopened directories, a fake wall clock
	// (2022-01-01 + 1 ms per reading), a fake monotonic clock, sleep that
	// returns at once, and random_get from a fixed seed. The go-sdk adds a
	// file system only for a manifest with allowed paths, which Load never
	// sets.
	cfg := wazero.NewModuleConfig().WithStdout(in.out.Stdout()).WithStderr(in.out.Stderr())
	p, err := o.plugin.compiled.Instance(lease.WithAllocator(ctx), extsdk.PluginInstanceConfig{ModuleConfig: cfg})
	if err != nil {
		lease.Release()
		return nil, fmt.Errorf("instantiate extism plugin %q for operator %q subtask %d: %w", o.plugin.name, o.info.Name, o.info.Subtask, err)
	}
	p.Config = o.config
	p.AllowedHosts, p.AllowedPaths = nil, nil
	p.SetLogger(func(level extsdk.LogLevel, msg string) {
		in.out.Write(slogLevel(level), "extism", []byte(msg))
	})
	in.p = p
	return in, nil
}

// slogLevel maps an Extism log level to a slog level.
func slogLevel(l extsdk.LogLevel) slog.Level {
	switch l {
	case extsdk.LogLevelTrace, extsdk.LogLevelDebug:
		return slog.LevelDebug
	case extsdk.LogLevelWarn:
		return slog.LevelWarn
	case extsdk.LogLevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Process calls the plugin's function with the batch as its Extism input and
// hands the call's output, if not empty, to env as a batch on port 0. It
// fails with a *runtime.OperatorError when the plugin traps, runs out of
// time, returns a non-zero status or sets an error, emits an invalid batch,
// or a host function got INTERNAL from env. A trap or a time-out discards the
// instance; the next Process makes a fresh one.
func (o *operator) Process(ctx context.Context, batch []byte, env runtime.Env) error {
	if o.closed {
		return fmt.Errorf("operator %q subtask %d: process after close", o.info.Name, o.info.Subtask)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("operator %q subtask %d: %w", o.info.Name, o.info.Subtask, context.Cause(ctx))
	}
	if len(batch) < abi.BatchHeaderSize || int64(len(batch)) > o.lim.MemoryBytes {
		return fmt.Errorf("operator %q subtask %d: batch of %d bytes is not between the %d-byte header and the memory limit of %d bytes",
			o.info.Name, o.info.Subtask, len(batch), abi.BatchHeaderSize, o.lim.MemoryBytes)
	}
	in := o.inst
	if in == nil {
		var err error
		if in, err = o.instantiate(ctx); err != nil {
			return err
		}
		o.inst = in
	}
	in.begin(env, uint32(abi.Count(batch)))
	fn := o.plugin.opts.Function
	callCtx, cancel := context.WithTimeoutCause(ctx, o.lim.CallTimeout, errCallTimeout)
	in.out.Reset()
	status, out, err := in.p.CallWithContext(context.WithValue(callCtx, instanceKey{}, in), fn, batch)
	timedOut := context.Cause(callCtx) == errCallTimeout
	ended := callCtx.Err() != nil
	cancel()
	in.out.Flush()
	in.env = nil

	var pluginErr string // the error the plugin set (Extism's error_set) before it returned
	if err != nil {
		msg := in.p.GetErrorWithContext(context.Background())
		if timedOut || ctx.Err() != nil || msg == "" || err.Error() != msg {
			return o.callError(ctx, in, batch, err, msg, timedOut)
		}
		pluginErr = msg
	}
	if ended {
		// NB: the call returned, but its context ended as it did; wazero closes
		// the instance when it sees that, maybe only now, so it is not used again.
		o.drop(in)
	}
	if in.internal.fn != "" {
		oe := o.entryError(batch, in.internal.entry)
		oe.Code = abi.Internal
		oe.Err = fmt.Errorf("host function %s failed with INTERNAL (a host failure such as a state storage error), so the call fails whatever the plugin returned (status %d)",
			in.internal.fn, status)
		return oe
	}
	if pluginErr != "" {
		oe := o.entryError(batch, in.cursor)
		oe.Code = guestCode(status)
		oe.Err = fmt.Errorf("%s returned status %d with the error: %s", fn, status, guestio.Cut([]byte(pluginErr), guestio.MaxErrorMessageBytes))
		return oe
	}
	if status != 0 {
		oe := o.entryError(batch, in.cursor)
		oe.Code = guestCode(status)
		oe.Err = fmt.Errorf("%s returned status %d", fn, status)
		return oe
	}
	if in.rejected.err != nil {
		// NB: a rejected emit lost records; a plugin that ignores the code must
		// not turn that into silent data loss (abi/ABI.md §8).
		oe := o.entryError(batch, -1)
		oe.Code = in.rejected.code
		oe.Err = fmt.Errorf("the plugin returned 0 after the host rejected its emitted records: %w", in.rejected.err)
		return oe
	}
	if len(out) == 0 {
		return nil
	}
	return o.emitOutput(in, batch, out, env)
}

// emitOutput validates the call's output and hands it to env on port 0.
func (o *operator) emitOutput(in *instance, batch, out []byte, env runtime.Env) error {
	fail := func(c abi.Code, err error) error {
		oe := o.entryError(batch, -1)
		oe.Code = c
		oe.Err = fmt.Errorf("the output of %s: %w", o.plugin.opts.Function, err)
		return oe
	}
	if int64(in.emitted)+int64(len(out)) > int64(o.lim.MaxEmitBytes) {
		return fail(abi.LimitExceeded, fmt.Errorf("%d bytes would exceed the limit of %d emitted bytes per call (%d emitted through weir_v1_emit)",
			len(out), o.lim.MaxEmitBytes, in.emitted))
	}
	if c, err := in.validate(out); err != nil {
		return fail(c, err)
	}
	if abi.Count(out) == 0 {
		return nil
	}
	switch c := abi.Code(env.Emit(0, out)); c {
	case abi.OK:
		return nil
	case abi.Internal:
		return fail(c, errors.New("the host could not take the records (INTERNAL)"))
	default:
		return fail(c, fmt.Errorf("the host rejected the records with %s", c))
	}
}

// guestCode returns status as an operator's own error code (abi/ABI.md §8,
// 100-65535), or 0 for any other status, such as Extism's customary 1.
func guestCode(status uint32) abi.Code {
	if c := abi.Code(status); c >= abi.FirstGuestCode && c <= math.MaxUint16 {
		return c
	}
	return abi.OK
}

// Close releases the instance. The operator cannot be used afterwards.
func (o *operator) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	if in := o.inst; in != nil {
		o.inst = nil
		defer in.lease.Release() // NB: after the plugin closes: it frees the memories
		if err := in.p.Close(context.Background()); err != nil {
			return fmt.Errorf("operator %q subtask %d: close extism plugin instance: %w", o.info.Name, o.info.Subtask, err)
		}
	}
	return nil
}

// drop closes in, which is unusable; the next Process makes a fresh instance.
func (o *operator) drop(in *instance) {
	if o.inst == in {
		o.inst = nil
	}
	defer in.lease.Release() // NB: after the plugin closes: it frees the memories
	if err := in.p.Close(context.Background()); err != nil {
		o.logger.Warn("closing a discarded extism plugin instance failed", slog.Any("error", err))
	}
}

// begin resets the per-call state.
func (in *instance) begin(env runtime.Env, count uint32) {
	in.env, in.count, in.cursor, in.emitted = env, count, -1, 0
	in.internal.fn, in.internal.entry = "", 0
	in.rejected.code, in.rejected.err = 0, nil
}

// entryError returns an OperatorError for entry i of batch (-1: unknown).
func (o *operator) entryError(batch []byte, i int) *runtime.OperatorError {
	return guestio.EntryError(o.info, o.plugin.name, batch, i)
}

// callError turns the error of a call that did not return normally (a trap,
// an exit, a time-out, the caller's cancellation) into the error Process
// returns, and discards the instance. msg is the plugin's error message, if
// it set one before it failed.
func (o *operator) callError(ctx context.Context, in *instance, batch []byte, err error, msg string, timedOut bool) error {
	panicLine := in.out.PanicLine()
	o.drop(in)
	fn := o.plugin.opts.Function
	if !timedOut && ctx.Err() != nil {
		return fmt.Errorf("operator %q subtask %d: %s interrupted: %w", o.info.Name, o.info.Subtask, fn, context.Cause(ctx))
	}
	oe := o.entryError(batch, in.cursor)
	if timedOut {
		oe.Err = fmt.Errorf("call exceeded the time limit of %v", o.lim.CallTimeout)
	} else {
		oe.Err = guestio.TrapError(fn, "plugin", err, panicLine)
	}
	if msg != "" {
		oe.Err = fmt.Errorf("%w (the plugin had set the error: %s)", oe.Err, guestio.Cut([]byte(msg), guestio.MaxErrorMessageBytes))
	}
	return oe
}
