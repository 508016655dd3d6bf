//! Event-time windows with Flink's semantics: tumbling, sliding and session
//! windows on keyed state and event-time timers.

use crate::abi::NO_TIMESTAMP;
use crate::codec::{Codec, Decode, Encode};
use crate::context::Context;
use crate::error::{Code, Error};
use crate::record::{Output, Record, Timer, TimerKind};
use crate::state::{check_name, scan_raw};
use std::fmt;
use std::time::Duration;

const SIGN_BIT: u64 = 1 << 63;

/// `Window` is the half-open event-time interval `[start, end)`, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    /// `start` is the first ms in the window.
    pub start: i64,
    /// `end` is the first ms after the window.
    pub end: i64,
}

impl Window {
    /// `max_timestamp` returns `end - 1`, the last timestamp in the window:
    /// the window fires once the watermark reaches it, and the records it
    /// emits then carry it.
    pub const fn max_timestamp(&self) -> i64 {
        self.end.wrapping_sub(1)
    }

    fn intersects(&self, o: &Window) -> bool {
        self.start <= o.end && self.end >= o.start
    }

    fn cover(&self, o: &Window) -> Window {
        Window {
            start: self.start.min(o.start),
            end: self.end.max(o.end),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tumbling,
    Sliding,
    Session,
}

/// `Assigner` says which windows a record belongs to. Windows are aligned to
/// the Unix epoch; durations are rounded down to whole ms and must be at least
/// 1 ms (a constant with a shorter one does not compile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigner {
    kind: Kind,
    size: i64, // ms; the gap of session windows
    slide: i64,
}

const fn window_ms(d: Duration) -> i64 {
    let ms = d.as_millis();
    assert!(
        ms >= 1 && ms <= i64::MAX as u128,
        "weir: a window size, slide or gap is at least 1ms"
    );
    ms as i64
}

impl Assigner {
    /// `tumbling` assigns each record to the one window of length `size` that
    /// holds its timestamp: `[k*size, (k+1)*size)`.
    pub const fn tumbling(size: Duration) -> Assigner {
        let ms = window_ms(size);
        Assigner {
            kind: Kind::Tumbling,
            size: ms,
            slide: ms,
        }
    }

    /// `sliding` assigns each record to every window of length `size` that
    /// holds its timestamp, with windows starting every `slide`:
    /// `[k*slide, k*slide+size)`.
    pub const fn sliding(size: Duration, slide: Duration) -> Assigner {
        Assigner {
            kind: Kind::Sliding,
            size: window_ms(size),
            slide: window_ms(slide),
        }
    }

    /// `session` assigns each record to the window `[timestamp,
    /// timestamp+gap)` and merges the windows of one key that overlap or
    /// touch, so that a session ends after `gap` without records.
    pub const fn session(gap: Duration) -> Assigner {
        let ms = window_ms(gap);
        Assigner {
            kind: Kind::Session,
            size: ms,
            slide: ms,
        }
    }
}

/// `WindowFunction` is the aggregate of a [`WindowState`]: how records fold
/// into a window's accumulator and what a window emits when it fires.
pub trait WindowFunction {
    /// `Acc` is the accumulator a window keeps in state, with its codec.
    type Acc: Codec;
    /// `create` returns the accumulator of a new window.
    fn create(&self) -> Self::Acc;
    /// `add` folds the record `rec` into `acc`.
    fn add(&self, acc: Self::Acc, rec: &Record<'_>) -> Result<Self::Acc, Error>;
    /// `merge` combines the accumulators of two session windows that merge
    /// (`a` starts before `b`). Session windows need it; the default fails.
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Result<Self::Acc, Error> {
        let _ = (a, b);
        Err(Error::msg(
            "session windows need WindowFunction::merge, which this function does not implement",
        ))
    }
    /// `emit` runs when `window` fires, with its accumulator; it usually
    /// calls `ctx.emit`. `ctx.key()` is the window's key and
    /// `ctx.timestamp()` is `window.max_timestamp()`, which emitted records
    /// inherit.
    fn emit(&self, ctx: &mut Context<'_>, window: Window, acc: Self::Acc) -> Result<(), Error>;
}

/// `WindowState` is a keyed, event-time windowed aggregate with Flink's
/// semantics: a window `[start, end)` fires once the watermark reaches
/// `end - 1`, through an event-time timer at `end - 1`, and is removed then
/// (or after the allowed lateness). Call [`WindowState::add`] from `process`
/// and [`WindowState::on_timer`] from `on_timer`:
///
/// ```
/// use std::time::Duration;
/// use weir::{Assigner, Context, Error, Record, Window, WindowFunction, WindowState};
///
/// struct Count;
///
/// impl WindowFunction for Count {
///     type Acc = i64;
///     fn create(&self) -> i64 { 0 }
///     fn add(&self, n: i64, _: &Record<'_>) -> Result<i64, Error> { Ok(n + 1) }
///     fn emit(&self, ctx: &mut Context<'_>, _: Window, n: i64) -> Result<(), Error> {
///         let mut buf = [0u8; 20];
///         let key = ctx.key();
///         ctx.emit(key, weir::text::format_i64(n, &mut buf));
///         Ok(())
///     }
/// }
///
/// const PER_MINUTE: WindowState<Count> =
///     WindowState::new("per-minute", Assigner::tumbling(Duration::from_secs(60)), Count)
///         .late_records_to(1);
/// ```
///
/// Its accumulators are a map state named `name` whose user keys are the
/// windows (start and end, 8 bytes each, big-endian with the sign bit
/// flipped) and whose values are the accumulators' encoding: the layout of
/// the Go SDK's WindowState, so the two read each other's windows.
///
/// NB: timers belong to a key, not to a window (ABI §5): there is one timer
/// per key, kind and time. A window's timer and a timer the operator sets
/// itself for the same key and time are one timer, for which `on_timer`
/// reports handled; and when session windows merge, the timers of the
/// windows merged away are deleted, which also deletes an operator's own
/// timer at that key and time.
pub struct WindowState<F> {
    name: &'static str,
    assigner: Assigner,
    lateness: i64,
    late_port: Option<u8>,
    f: F,
}

impl<F> WindowState<F> {
    /// `new` declares a windowed aggregate named `name` (its state name), with
    /// windows from `assigner` and the aggregate `f`. Records late for every
    /// window are dropped unless [`WindowState::late_records_to`] says where
    /// they go.
    pub const fn new(name: &'static str, assigner: Assigner, f: F) -> Self {
        check_name(name);
        WindowState {
            name,
            assigner,
            lateness: 0,
            late_port: None,
            f,
        }
    }

    /// `allowed_lateness` keeps each window for `lateness` after it fires
    /// (rounded down to whole ms): a record that arrives in that time is added
    /// and fires the window again with the updated result (Flink's late
    /// firing). Later records, and every late record when the lateness is 0
    /// (the default), go where [`WindowState::late_records_to`] says.
    pub const fn allowed_lateness(mut self, lateness: Duration) -> Self {
        let ms = lateness.as_millis();
        self.lateness = if ms > i64::MAX as u128 {
            i64::MAX
        } else {
            ms as i64
        };
        self
    }

    /// `late_records_to` sends records too late for every window they belong
    /// to, as they are, to output `port` (usually a side output). Without it
    /// they are dropped.
    pub const fn late_records_to(mut self, port: u8) -> Self {
        self.late_port = Some(port);
        self
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<F: WindowFunction> WindowState<F> {
    /// `add` adds the record `rec` (of the current key; its timestamp places
    /// it) to each window it belongs to. A record late for all of them is
    /// dropped or sent to the late-records port; one that arrives within the
    /// allowed lateness of a window that has fired fires it again at once. A
    /// record without a timestamp is an error.
    pub fn add(&self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let ts = rec.timestamp;
        if ts == NO_TIMESTAMP {
            return Err(Error::msg(format!(
                "window {:?}: record has no timestamp; event-time windows need one",
                self.name
            )));
        }
        if self.assigner.kind == Kind::Session {
            return self.add_session(ctx, rec);
        }
        let (size, slide) = (self.assigner.size, self.assigner.slide);
        let mut late = true;
        // NB: wrapping arithmetic, as the Go SDK's, so that both assign the
        // same windows even at the ends of the time range.
        let last = ts.wrapping_sub(floor_mod(ts, slide));
        let mut start = last;
        while start > ts.wrapping_sub(size) {
            let win = Window {
                start,
                end: start.wrapping_add(size),
            };
            if !self.is_late(&win, ctx.watermark()) {
                late = false;
                self.add_to(ctx, win, rec)?;
            }
            start = start.wrapping_sub(slide);
        }
        if late {
            self.late_record(ctx, rec);
        }
        Ok(())
    }

    /// `add_to` adds `rec` to the (tumbling or sliding) window `win`.
    fn add_to(&self, ctx: &mut Context<'_>, win: Window, rec: &Record<'_>) -> Result<(), Error> {
        let (acc, found) = self.load(ctx, &win)?;
        let acc = self.f.add(acc, rec)?;
        self.store(ctx, &win, &acc)?;
        if !found {
            self.set_timers(ctx, &win)?;
        }
        if win.max_timestamp() <= ctx.watermark() {
            return self.fire(ctx, win, acc); // a late firing, within the allowed lateness
        }
        Ok(())
    }

    fn add_session(&self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let ts = rec.timestamp;
        let mut union = Window {
            start: ts,
            end: sat_add(ts, self.assigner.size),
        };
        let mut wins: Vec<Window> = Vec::new();
        let mut accs: Vec<F::Acc> = Vec::new();
        let name = self.name;
        // Windows of a key never overlap or touch and come in start order, so
        // one pass finds every window that the union of the new one with the
        // windows before it reaches.
        scan_raw(ctx, name, &[], |_, uk, v| {
            let win = decode_window_key(name, uk)?;
            if win.start > union.end {
                return Ok(false);
            }
            if win.intersects(&union) {
                accs.push(decode_acc::<F::Acc>(name, v)?);
                wins.push(win);
                union = union.cover(&win);
            }
            Ok(true)
        })?;
        if self.is_late(&union, ctx.watermark()) {
            self.late_record(ctx, rec);
            return Ok(());
        }
        let mut merged = accs.into_iter();
        let mut acc = match merged.next() {
            Some(first) => first,
            None => self.f.create(),
        };
        for next in merged {
            acc = self.f.merge(acc, next)?;
        }
        let acc = self.f.add(acc, rec)?;
        for w in &wins {
            if *w == union {
                continue; // its state is overwritten below, and its timers stay
            }
            self.remove(ctx, w)?;
            self.delete_timers(ctx, w)?;
        }
        self.store(ctx, &union, &acc)?;
        self.set_timers(ctx, &union)?;
        if union.max_timestamp() <= ctx.watermark() {
            return self.fire(ctx, union, acc);
        }
        Ok(())
    }

    /// `on_timer` fires and removes the windows of the current key that the
    /// event-time timer `t` is for, and returns whether `t` was one of this
    /// window state's timers (see the NB on [`WindowState`]);
    /// processing-time timers never are.
    pub fn on_timer(&self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<bool, Error> {
        if t.kind != TimerKind::EventTime {
            return Ok(false);
        }
        if self.assigner.kind == Kind::Session {
            return self.on_timer_session(ctx, t);
        }
        let size = self.assigner.size;
        let mut handled = false;
        if t.time < i64::MAX {
            // The window that fires now ends just after t.
            let end = t.time + 1;
            let win = Window {
                start: end.wrapping_sub(size),
                end,
            };
            let (acc, found) = self.load(ctx, &win)?;
            if found {
                handled = true;
                self.fire(ctx, win, acc)?;
                if self.lateness == 0 {
                    self.remove(ctx, &win)?;
                    return Ok(true);
                }
            }
        }
        if self.lateness > 0 {
            // The window whose allowed lateness ends now.
            let end = t.time.wrapping_sub(self.lateness).wrapping_add(1);
            let win = Window {
                start: end.wrapping_sub(size),
                end,
            };
            if self.exists(ctx, &win)? {
                self.remove(ctx, &win)?;
                return Ok(true);
            }
        }
        Ok(handled)
    }

    fn on_timer_session(&self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<bool, Error> {
        struct Due<A> {
            win: Window,
            acc: A,
            fire: bool,
            cleanup: bool,
        }
        let mut dues: Vec<Due<F::Acc>> = Vec::new();
        let name = self.name;
        scan_raw(ctx, name, &[], |_, uk, v| {
            let win = decode_window_key(name, uk)?;
            let fire = win.max_timestamp() == t.time;
            let cleanup = self.cleanup_time(&win) == t.time;
            if fire || cleanup {
                dues.push(Due {
                    win,
                    acc: decode_acc::<F::Acc>(name, v)?,
                    fire,
                    cleanup,
                });
            }
            Ok(true)
        })?;
        let handled = !dues.is_empty();
        for d in dues {
            if d.fire {
                self.fire(ctx, d.win, d.acc)?;
            }
            if d.cleanup {
                self.remove(ctx, &d.win)?;
            }
        }
        Ok(handled)
    }

    fn is_late(&self, win: &Window, watermark: i64) -> bool {
        watermark != NO_TIMESTAMP && self.cleanup_time(win) <= watermark
    }

    /// `cleanup_time` is when `win`'s state goes: its max timestamp plus the
    /// allowed lateness.
    fn cleanup_time(&self, win: &Window) -> i64 {
        sat_add(win.max_timestamp(), self.lateness)
    }

    fn late_record(&self, ctx: &mut Context<'_>, rec: &Record<'_>) {
        if let Some(port) = self.late_port {
            ctx.emit_output(port, &Output::from(rec));
        }
    }

    /// `fire` hands `win`'s result to the function's `emit`, with the
    /// context's timestamp set to the window's max timestamp meanwhile.
    fn fire(&self, ctx: &mut Context<'_>, win: Window, acc: F::Acc) -> Result<(), Error> {
        let saved = ctx.timestamp;
        ctx.timestamp = win.max_timestamp();
        let r = self.f.emit(ctx, win, acc);
        ctx.timestamp = saved;
        r
    }

    fn set_timers(&self, ctx: &mut Context<'_>, win: &Window) -> Result<(), Error> {
        if win.max_timestamp() > ctx.watermark() {
            ctx.set_event_timer(win.max_timestamp())?;
        }
        if self.lateness > 0 {
            ctx.set_event_timer(self.cleanup_time(win))?;
        }
        Ok(())
    }

    fn delete_timers(&self, ctx: &mut Context<'_>, win: &Window) -> Result<(), Error> {
        ctx.delete_event_timer(win.max_timestamp())?;
        if self.lateness > 0 {
            ctx.delete_event_timer(self.cleanup_time(win))?;
        }
        Ok(())
    }

    /// `load` returns `win`'s accumulator, or a new one (found false).
    fn load(&self, ctx: &mut Context<'_>, win: &Window) -> Result<(F::Acc, bool), Error> {
        set_window_key(ctx, win);
        match ctx.core.get(ctx.entry, self.name, true)? {
            Some(b) => Ok((decode_acc(self.name, b)?, true)),
            None => Ok((self.f.create(), false)),
        }
    }

    fn exists(&self, ctx: &mut Context<'_>, win: &Window) -> Result<bool, Error> {
        set_window_key(ctx, win);
        Ok(ctx.core.get(ctx.entry, self.name, true)?.is_some())
    }

    fn store(&self, ctx: &mut Context<'_>, win: &Window, acc: &F::Acc) -> Result<(), Error> {
        set_window_key(ctx, win);
        let core = &mut *ctx.core;
        core.value.clear();
        acc.encode(&mut core.value);
        core.put_value(ctx.entry, self.name, true)
    }

    fn remove(&self, ctx: &mut Context<'_>, win: &Window) -> Result<(), Error> {
        set_window_key(ctx, win);
        ctx.core.delete(ctx.entry, self.name, true)
    }
}

/// `set_window_key` puts the user key of `win` in the user key scratch
/// buffer: start and end, big-endian with the sign bit flipped, so that keys
/// sort by start.
fn set_window_key(ctx: &mut Context<'_>, win: &Window) {
    let uk = &mut ctx.core.user_key;
    uk.clear();
    uk.extend_from_slice(&((win.start as u64) ^ SIGN_BIT).to_be_bytes());
    uk.extend_from_slice(&((win.end as u64) ^ SIGN_BIT).to_be_bytes());
}

fn decode_window_key(name: &str, uk: &[u8]) -> Result<Window, Error> {
    if uk.len() != 16 {
        return Err(Error::sdk(
            Code::ERROR,
            format!("window {:?}", name),
            format!("window key of {} bytes, want 16", uk.len()),
        ));
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&uk[..8]);
    let start = (u64::from_be_bytes(a) ^ SIGN_BIT) as i64;
    a.copy_from_slice(&uk[8..]);
    let end = (u64::from_be_bytes(a) ^ SIGN_BIT) as i64;
    Ok(Window { start, end })
}

fn decode_acc<A: Decode>(name: &str, b: &[u8]) -> Result<A, Error> {
    A::decode(b).map_err(|e| e.context(format_args!("window {:?}", name)))
}

/// `floor_mod` returns `a` mod `b` in `[0, b)`, also for negative `a`, with
/// the Go SDK's arithmetic.
fn floor_mod(a: i64, b: i64) -> i64 {
    (a % b).wrapping_add(b) % b
}

/// `sat_add` returns `a + b` for `b >= 0`, saturating at `i64::MAX`.
fn sat_add(a: i64, b: i64) -> i64 {
    a.saturating_add(b)
}
