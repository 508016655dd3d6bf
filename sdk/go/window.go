package weir

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Window is the half-open event-time interval [Start, End), in ms.
type Window struct {
	Start, End int64
}

// MaxTimestamp returns End-1, the last timestamp in w: the window fires once the
// watermark reaches it, and the records it emits then carry it.
func (w Window) MaxTimestamp() int64 { return w.End - 1 }

func (w Window) String() string { return fmt.Sprintf("[%d, %d)", w.Start, w.End) }

func (w Window) intersects(o Window) bool { return w.Start <= o.End && w.End >= o.Start }

func (w Window) cover(o Window) Window {
	return Window{Start: min(w.Start, o.Start), End: max(w.End, o.End)}
}

type assignerKind uint8

const (
	tumbling assignerKind = iota + 1
	sliding
	session
)

// Assigner says which windows a record belongs to. Make one with Tumbling,
// Sliding or Session; windows are aligned to the Unix epoch.
type Assigner struct {
	kind  assignerKind
	size  int64 // ms; the gap of session windows
	slide int64 // ms
}

// Tumbling assigns each record to the one window of length size that holds
// its timestamp: [k*size, (k+1)*size). size is rounded down to whole ms and
// must be at least 1 ms.
func Tumbling(size time.Duration) Assigner {
	ms := windowMS("Tumbling size", size)
	return Assigner{kind: tumbling, size: ms, slide: ms}
}

// Sliding assigns each record to every window of length size that holds its
// timestamp, with windows starting every slide: [k*slide, k*slide+size).
func Sliding(size, slide time.Duration) Assigner {
	return Assigner{kind: sliding, size: windowMS("Sliding size", size), slide: windowMS("Sliding slide", slide)}
}

// Session assigns each record to the window [timestamp, timestamp+gap) and
// merges the windows of one key that overlap or touch, so that a session ends
// after gap without records.
func Session(gap time.Duration) Assigner {
	return Assigner{kind: session, size: windowMS("Session gap", gap)}
}

func windowMS(what string, d time.Duration) int64 {
	ms := d.Milliseconds()
	if ms < 1 {
		panic(fmt.Sprintf("weir: %s %v: must be at least 1ms", what, d))
	}
	return ms
}

// WindowFuncs are the functions of a window aggregate over an accumulator of
// type ACC.
type WindowFuncs[ACC any] struct {
	// Init returns the accumulator of a new window; nil means the zero ACC.
	Init func() ACC
	// Add folds the record r into acc. Required.
	Add func(acc ACC, r Record) (ACC, error)
	// Merge combines the accumulators of two session windows that merge (a
	// starts before b). Required for Session windows.
	Merge func(a, b ACC) ACC
	// Emit runs when window w fires, with its accumulator; it usually calls
	// ctx.Emit. ctx.Key() is the window's key and ctx.Timestamp() is
	// w.MaxTimestamp(), which records emitted with Timestamp 0 inherit.
	// Required.
	Emit func(ctx *Context, w Window, acc ACC) error
}

// WindowOption configures a WindowState.
type WindowOption func(*windowConfig)

type windowConfig struct {
	lateness int64 // ms
	latePort int   // -1: drop late records
}

// AllowedLateness keeps each window for lateness after it fires (rounded down
// to whole ms): a record that arrives in that time is added and fires the
// window again with the updated result (Flink's late firing). Later records,
// and every record when lateness is 0 (the default), are late: see
// LateRecordsTo.
func AllowedLateness(lateness time.Duration) WindowOption {
	return func(c *windowConfig) { c.lateness = max(lateness.Milliseconds(), 0) }
}

// LateRecordsTo sends records too late for every window they belong to, as they
// are, to output port (usually a side output, 1..MaxPort). Without it they are
// dropped.
func LateRecordsTo(port int) WindowOption {
	if port < 0 || port > MaxPort {
		panic(fmt.Sprintf("weir: LateRecordsTo(%d): port outside 0..%d", port, MaxPort))
	}
	return func(c *windowConfig) { c.latePort = port }
}

// WindowState is a keyed, event-time windowed aggregate with Flink's
// semantics: a window [Start, End) fires once the watermark reaches End-1,
// through an event-time timer at End-1, and is removed then (or after the
// allowed lateness). Call Add from Operator.Process and OnTimer from
// Operator.OnTimer:
//
//	var perMinute = weir.NewWindow("clicks", weir.Tumbling(time.Minute), weir.Int64,
//		weir.WindowFuncs[int64]{
//			Add:  func(n int64, _ weir.Record) (int64, error) { return n + 1, nil },
//			Emit: func(ctx *weir.Context, w weir.Window, n int64) error { ... },
//		})
//
// Its accumulators are a map state named name whose user keys are the windows
// (start and end, 8 bytes each, big-endian with the sign bit flipped) and whose
// values are encoded by the accumulator codec.
//
// NB: timers belong to a key, not to a window (ABI §5): there is one timer per
// key, kind and time. A window's timer and a timer the operator sets itself for
// the same key and time are one timer, for which OnTimer reports handled; and
// when session windows merge, the timers of the windows merged away are
// deleted, which also deletes an operator's own timer at that key and time.
type WindowState[ACC any] struct {
	name   []byte
	a      Assigner
	codec  Codec[ACC]
	fixed  fixedCodec // which 8-byte SDK codec codec is, if any
	f      WindowFuncs[ACC]
	config windowConfig
}

// NewWindow declares a windowed aggregate named name (its state name), with
// windows from a, accumulators encoded by codec and the functions f. It
// panics if a required function is missing.
func NewWindow[ACC any](name string, a Assigner, codec Codec[ACC], f WindowFuncs[ACC], opts ...WindowOption) *WindowState[ACC] {
	switch {
	case a.kind == 0:
		panic(fmt.Sprintf("weir: window %q: zero Assigner; use Tumbling, Sliding or Session", name))
	case f.Add == nil || f.Emit == nil:
		panic(fmt.Sprintf("weir: window %q: WindowFuncs needs Add and Emit", name))
	case a.kind == session && f.Merge == nil:
		panic(fmt.Sprintf("weir: window %q: session windows need WindowFuncs.Merge", name))
	}
	w := &WindowState[ACC]{name: stateName("window", name), a: a, codec: codec, fixed: fixedCodecOf(codec), f: f, config: windowConfig{latePort: -1}}
	for _, o := range opts {
		o(&w.config)
	}
	return w
}

// Name returns the state name.
func (w *WindowState[ACC]) Name() string { return string(w.name) }

// Add adds the record r (of the current key; its Timestamp places it) to each
// window it belongs to. A record that is late for all of them is dropped or
// sent to the LateRecordsTo port; one that arrives within the allowed
// lateness of a window that has fired fires it again at once.
func (w *WindowState[ACC]) Add(ctx *Context, r Record) error {
	ts := r.Timestamp
	if ts == NoTimestamp {
		return fmt.Errorf("weir: window %q: record has no timestamp; event-time windows need one", w.name)
	}
	if w.a.kind == session {
		return w.addSession(ctx, r)
	}
	late := true
	last := ts - floorMod(ts, w.a.slide)
	for start := last; start > ts-w.a.size; start -= w.a.slide {
		win := Window{Start: start, End: start + w.a.size}
		if w.isLate(win, ctx.watermark) {
			continue
		}
		late = false
		if err := w.addTo(ctx, win, r); err != nil {
			return err
		}
	}
	if late {
		w.lateRecord(ctx, r)
	}
	return nil
}

// addTo adds r to the (tumbling or sliding) window win.
func (w *WindowState[ACC]) addTo(ctx *Context, win Window, r Record) error {
	acc, found, err := w.load(ctx, win)
	if err != nil {
		return err
	}
	if acc, err = w.f.Add(acc, r); err != nil {
		return err
	}
	if err := w.store(ctx, win, acc); err != nil {
		return err
	}
	if !found {
		if err := w.setTimers(ctx, win); err != nil {
			return err
		}
	}
	if win.MaxTimestamp() <= ctx.watermark {
		return w.fire(ctx, win, acc) // a late firing, within the allowed lateness
	}
	return nil
}

func (w *WindowState[ACC]) addSession(ctx *Context, r Record) error {
	type sessionWin struct {
		win Window
		acc ACC
	}
	var merged []sessionWin
	union := Window{Start: r.Timestamp, End: satAdd(r.Timestamp, w.a.size)}
	// Windows of a key never overlap or touch and come in start order, so one
	// pass finds every window that the union of the new one with the windows
	// before it reaches.
	err := ctx.in.stateScan(ctx, w.name, nil, func(uk, v []byte) (bool, error) {
		win, err := w.decodeKey(uk)
		if err != nil {
			return false, err
		}
		if win.Start > union.End {
			return false, nil
		}
		if win.intersects(union) {
			acc, err := w.codec.Decode(v)
			if err != nil {
				return false, codecError("window", w.name, err)
			}
			merged = append(merged, sessionWin{win, acc})
			union = union.cover(win)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if w.isLate(union, ctx.watermark) {
		w.lateRecord(ctx, r)
		return nil
	}
	var acc ACC
	switch {
	case len(merged) > 0:
		acc = merged[0].acc
		for _, m := range merged[1:] {
			acc = w.f.Merge(acc, m.acc)
		}
	case w.f.Init != nil:
		acc = w.f.Init()
	}
	if acc, err = w.f.Add(acc, r); err != nil {
		return err
	}
	for _, m := range merged {
		if m.win == union {
			continue // its state is overwritten below, and its timers stay
		}
		if err := w.remove(ctx, m.win); err != nil {
			return err
		}
		if err := w.deleteTimers(ctx, m.win); err != nil {
			return err
		}
	}
	if err := w.store(ctx, union, acc); err != nil {
		return err
	}
	if err := w.setTimers(ctx, union); err != nil {
		return err
	}
	if union.MaxTimestamp() <= ctx.watermark {
		return w.fire(ctx, union, acc)
	}
	return nil
}

// OnTimer fires and removes the windows of the current key that the event-time
// timer t is for. handled reports whether t was one of this WindowState's
// timers (see the NB on WindowState); processing-time timers never are.
func (w *WindowState[ACC]) OnTimer(ctx *Context, t Timer) (handled bool, err error) {
	if t.Kind != EventTime {
		return false, nil
	}
	if w.a.kind == session {
		return w.onTimerSession(ctx, t)
	}
	if t.Time < math.MaxInt64 {
		// The window that fires now ends just after t.
		win := Window{Start: t.Time + 1 - w.a.size, End: t.Time + 1}
		acc, found, err := w.load(ctx, win)
		if err != nil {
			return false, err
		}
		if found {
			handled = true
			if err := w.fire(ctx, win, acc); err != nil {
				return true, err
			}
			if w.config.lateness == 0 {
				return true, w.remove(ctx, win)
			}
		}
	}
	if w.config.lateness > 0 {
		// The window whose allowed lateness ends now.
		end := t.Time - w.config.lateness + 1
		win := Window{Start: end - w.a.size, End: end}
		_, found, err := w.load(ctx, win)
		if err != nil {
			return handled, err
		}
		if found {
			return true, w.remove(ctx, win)
		}
	}
	return handled, nil
}

func (w *WindowState[ACC]) onTimerSession(ctx *Context, t Timer) (bool, error) {
	type due struct {
		win     Window
		acc     ACC
		fire    bool
		cleanup bool
	}
	var dues []due
	err := ctx.in.stateScan(ctx, w.name, nil, func(uk, v []byte) (bool, error) {
		win, err := w.decodeKey(uk)
		if err != nil {
			return false, err
		}
		d := due{win: win, fire: win.MaxTimestamp() == t.Time, cleanup: w.cleanupTime(win) == t.Time}
		if d.fire || d.cleanup {
			if d.acc, err = w.codec.Decode(v); err != nil {
				return false, codecError("window", w.name, err)
			}
			dues = append(dues, d)
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	for _, d := range dues {
		if d.fire {
			if err := w.fire(ctx, d.win, d.acc); err != nil {
				return true, err
			}
		}
		if d.cleanup {
			if err := w.remove(ctx, d.win); err != nil {
				return true, err
			}
		}
	}
	return len(dues) > 0, nil
}

func (w *WindowState[ACC]) isLate(win Window, watermark int64) bool {
	return watermark != NoTimestamp && w.cleanupTime(win) <= watermark
}

// cleanupTime is when win's state goes: its max timestamp plus the lateness.
func (w *WindowState[ACC]) cleanupTime(win Window) int64 {
	return satAdd(win.MaxTimestamp(), w.config.lateness)
}

func (w *WindowState[ACC]) lateRecord(ctx *Context, r Record) {
	if w.config.latePort >= 0 {
		ctx.EmitTo(w.config.latePort, r)
	}
}

// fire hands win's result to Emit, with ctx's timestamp set to the window's
// max timestamp for the time of the call.
func (w *WindowState[ACC]) fire(ctx *Context, win Window, acc ACC) error {
	saved := ctx.timestamp
	ctx.timestamp = win.MaxTimestamp()
	err := w.f.Emit(ctx, win, acc)
	ctx.timestamp = saved
	return err
}

func (w *WindowState[ACC]) setTimers(ctx *Context, win Window) error {
	if win.MaxTimestamp() > ctx.watermark {
		if err := ctx.SetEventTimer(win.MaxTimestamp()); err != nil {
			return err
		}
	}
	if w.config.lateness > 0 {
		return ctx.SetEventTimer(w.cleanupTime(win))
	}
	return nil
}

func (w *WindowState[ACC]) deleteTimers(ctx *Context, win Window) error {
	if err := ctx.DeleteEventTimer(win.MaxTimestamp()); err != nil {
		return err
	}
	if w.config.lateness > 0 {
		return ctx.DeleteEventTimer(w.cleanupTime(win))
	}
	return nil
}

// load returns win's accumulator, or a new one (found false).
func (w *WindowState[ACC]) load(ctx *Context, win Window) (acc ACC, found bool, err error) {
	sc := &ctx.in.state
	sc.userKey = appendWindowKey(sc.userKey[:0], win)
	b, found, err := ctx.in.stateGet(ctx, w.name, sc.userKey)
	switch {
	case err != nil:
		return acc, false, err
	case found && w.fixed != notFixed && len(b) == 8:
		acc = decodeFixed[ACC](w.fixed, binary.BigEndian.Uint64(b))
	case found:
		if acc, err = w.codec.Decode(b); err != nil {
			return acc, false, codecError("window", w.name, err)
		}
	case w.f.Init != nil:
		acc = w.f.Init()
	}
	return acc, found, nil
}

func (w *WindowState[ACC]) store(ctx *Context, win Window, acc ACC) error {
	sc := &ctx.in.state
	var v []byte
	if w.fixed != notFixed {
		v = sc.putFixed(encodeFixed(w.fixed, acc))
	} else {
		var err error
		if v, err = w.codec.Append(sc.value[:0], acc); err != nil {
			return codecError("window", w.name, err)
		}
		sc.value = v
	}
	sc.userKey = appendWindowKey(sc.userKey[:0], win)
	return ctx.in.statePut(ctx, w.name, sc.userKey, v)
}

func (w *WindowState[ACC]) remove(ctx *Context, win Window) error {
	sc := &ctx.in.state
	sc.userKey = appendWindowKey(sc.userKey[:0], win)
	return ctx.in.stateDelete(ctx, w.name, sc.userKey)
}

// appendWindowKey appends the user key of win: start and end, big-endian with
// the sign bit flipped, so that keys sort by start.
func appendWindowKey(dst []byte, win Window) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(win.Start)^signBit)
	return binary.BigEndian.AppendUint64(dst, uint64(win.End)^signBit)
}

func (w *WindowState[ACC]) decodeKey(uk []byte) (Window, error) {
	if len(uk) != 16 {
		return Window{}, codecError("window", w.name, fmt.Errorf("window key of %d bytes, want 16", len(uk)))
	}
	return Window{
		Start: int64(binary.BigEndian.Uint64(uk) ^ signBit),
		End:   int64(binary.BigEndian.Uint64(uk[8:]) ^ signBit),
	}, nil
}

// floorMod returns a mod b in [0, b), also for negative a.
func floorMod(a, b int64) int64 { return ((a % b) + b) % b }

// satAdd returns a+b for b >= 0, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
