//! The per-instance core (batch decoding, dispatch, emit buffers, scratch
//! buffers of the state calls) and the `Context` an operator acts through.

use crate::abi::{
    self, le_u32, le_u64, put_entry, BATCH_HEADER_BYTES, ENTRY_HEADER_BYTES, KIND_EVENT_TIMER,
    KIND_PROCESSING_TIMER, KIND_RECORD, MAGIC, MAX_KEY_BYTES, MAX_VALUE_BYTES, NO_TIMESTAMP,
    OFF_CURSOR,
};
use crate::error::{Code, Error};
use crate::record::{Output, Record, Timer, TimerKind};
use crate::sys;
use crate::Operator;
use std::fmt;

/// `FLUSH_BYTES` is the size in bytes past which the records emitted to one
/// port are handed to the host before the end of the batch.
const FLUSH_BYTES: usize = 1 << 20;
/// `MAX_RETAINED_OUT_BYTES` bounds the output buffer a port keeps between
/// batches; a bigger one (after huge records) is dropped after its flush.
const MAX_RETAINED_OUT_BYTES: usize = 4 * FLUSH_BYTES;
/// `INITIAL_OUT_BYTES` is the first capacity of a port's output buffer.
const INITIAL_OUT_BYTES: usize = 4 << 10;
/// `INITIAL_GET_BYTES` is the first size of the state_get output buffer: a
/// value up to this size takes one host call.
const INITIAL_GET_BYTES: usize = 4 << 10;
/// `MAX_RETAINED_GET_BYTES` bounds the state_get buffer an instance keeps: a
/// larger value is read into a buffer of its own, freed at the next batch.
const MAX_RETAINED_GET_BYTES: usize = 1 << 20;

/// `EMPTY_BATCH` is the header of an emitted batch before its count is set:
/// no watermark, processing time 0, cursor and reserved 0 (as the Go SDK
/// writes it).
const EMPTY_BATCH: [u8; BATCH_HEADER_BYTES] = {
    let mut h = [0u8; BATCH_HEADER_BYTES];
    let m = MAGIC.to_le_bytes();
    let w = NO_TIMESTAMP.to_le_bytes();
    let mut i = 0;
    while i < 4 {
        h[i] = m[i];
        i += 1;
    }
    let mut i = 0;
    while i < 8 {
        h[8 + i] = w[i];
        i += 1;
    }
    h
};

/// `OutBuf` is the batch of records emitted to one port, encoded in place
/// (ABI §4): a batch header, then the entries so far. An empty `buf` is a
/// port not used yet.
#[derive(Default)]
struct OutBuf {
    buf: Vec<u8>,
    count: u32,
}

impl OutBuf {
    fn restart(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(&EMPTY_BATCH);
        self.count = 0;
    }
}

/// `ScanBuf` holds the buffers of one state scan in progress: the host's
/// output and the start key of the next chunk.
#[derive(Default)]
pub(crate) struct ScanBuf {
    pub(crate) out: Vec<u8>,
    pub(crate) start: Vec<u8>,
}

/// `Core` is what an operator instance keeps between batches: emit buffers,
/// the failures recorded during a batch, and the scratch buffers of state
/// calls, so that the per-record path does not allocate once they have grown.
pub(crate) struct Core {
    outs: Vec<OutBuf>,
    /// `emit_err` is the first failed emit of the batch.
    emit_err: Option<Error>,
    /// `internal_err` is the first host call of the batch that returned
    /// INTERNAL.
    internal_err: Option<Error>,
    /// `get` is the state_get output buffer, used at its full length.
    get: Vec<u8>,
    /// `big` holds a value too large for `get`, until the next batch.
    big: Vec<u8>,
    pub(crate) user_key: Vec<u8>,
    pub(crate) value: Vec<u8>,
    /// `scans` is a free list of scan buffers; one is in use per nested scan.
    pub(crate) scans: Vec<ScanBuf>,
    fmt: String,
}

/// `Failure` is how a batch failed: the entry (None: not tied to one), the
/// status code to return and the cause.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) entry: Option<u32>,
    pub(crate) code: Code,
    pub(crate) err: Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            Some(i) => write!(f, "entry {}: {}", i, self.err),
            None => write!(f, "{}", self.err),
        }
    }
}

impl Core {
    pub(crate) fn new() -> Core {
        Core {
            outs: Vec::new(),
            emit_err: None,
            internal_err: None,
            get: vec![0; INITIAL_GET_BYTES],
            big: Vec::new(),
            user_key: Vec::new(),
            value: Vec::new(),
            scans: Vec::new(),
            fmt: String::new(),
        }
    }

    /// `begin_batch` forgets what a failed batch left behind.
    fn begin_batch(&mut self) {
        self.emit_err = None;
        self.internal_err = None;
        for o in &mut self.outs {
            if o.count != 0 {
                o.restart();
            }
        }
        if self.big.capacity() > 0 {
            self.big = Vec::new();
        }
    }

    /// `host_failed` records a host call `op` that returned `code` and
    /// returns its error.
    #[cold]
    pub(crate) fn host_failed(&mut self, code: Code, op: &'static str, name: &[u8]) -> Error {
        let err = Error::host(code, op, name);
        if code == Code::INTERNAL && self.internal_err.is_none() {
            self.internal_err = Some(err.clone());
        }
        err
    }

    /// `outcome` turns what an entry's callback returned, with the failures
    /// recorded during it, into a status code: a host call that returned
    /// INTERNAL fails the batch with INTERNAL even if the operator ignored
    /// it; a failed emit fails it as if the operator had returned the error.
    #[cold]
    fn outcome(&mut self, r: Result<(), Error>) -> Option<(Code, Error)> {
        if let Some(internal) = &self.internal_err {
            let err = match r {
                Err(e) if e != *internal => Error::sdk(
                    Code::INTERNAL,
                    internal.op().to_string(),
                    format!("the host failed (and then: {})", e),
                ),
                _ => internal.clone(),
            };
            return Some((Code::INTERNAL, err));
        }
        let err = match r {
            Err(e) => e,
            Ok(()) => self.emit_err.clone()?,
        };
        Some((err.batch_code(), err))
    }

    // ---- emit ----

    /// `put` appends a record to `port`'s buffer.
    #[inline]
    fn put(&mut self, port: u8, key: &[u8], value: &[u8], headers: &[u8], ts: i64, tid: u64) {
        if self.emit_err.is_some() || key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return self.reject(key, value);
        }
        let i = port as usize;
        if i >= self.outs.len() || self.outs[i].buf.is_empty() {
            self.open(port);
        }
        let o = &mut self.outs[i];
        put_entry(&mut o.buf, KIND_RECORD, key, value, headers, ts, tid);
        o.count += 1;
        if o.buf.len() >= FLUSH_BYTES {
            self.flush_full(port);
        }
    }

    #[cold]
    fn reject(&mut self, key: &[u8], value: &[u8]) {
        if self.emit_err.is_some() {
            return;
        }
        let msg = if key.len() > MAX_KEY_BYTES {
            format!(
                "record key of {} bytes is over the limit of {}",
                key.len(),
                MAX_KEY_BYTES
            )
        } else {
            format!(
                "record value of {} bytes is over the limit of {}",
                value.len(),
                MAX_VALUE_BYTES
            )
        };
        self.emit_err = Some(Error::sdk(Code::LIMIT_EXCEEDED, "emit", msg));
    }

    #[cold]
    fn open(&mut self, port: u8) {
        let i = port as usize;
        if self.outs.len() <= i {
            self.outs.resize_with(i + 1, OutBuf::default);
        }
        let o = &mut self.outs[i];
        o.buf.reserve(INITIAL_OUT_BYTES);
        o.restart();
    }

    /// `flush` hands `port`'s buffered records to the host in one emit call.
    fn flush(&mut self, port: usize) -> Result<(), Error> {
        let o = &mut self.outs[port];
        let count = o.count.to_le_bytes();
        o.buf[4..8].copy_from_slice(&count);
        let code = sys::emit(port as u32, &o.buf);
        if o.buf.capacity() > MAX_RETAINED_OUT_BYTES {
            o.buf = Vec::new();
        }
        o.restart();
        if code != Code::OK {
            let err = Error::sdk(code, format!("emit to port {}", port), "");
            if code == Code::INTERNAL && self.internal_err.is_none() {
                self.internal_err = Some(err.clone());
            }
            return Err(err);
        }
        Ok(())
    }

    #[cold]
    fn flush_full(&mut self, port: u8) {
        if let Err(e) = self.flush(port as usize) {
            if self.emit_err.is_none() {
                self.emit_err = Some(e);
            }
        }
    }

    /// `flush_all` flushes every port with buffered records, in port order.
    fn flush_all(&mut self) -> Result<(), Error> {
        let mut first = Ok(());
        for port in 0..self.outs.len() {
            if self.outs[port].count == 0 {
                continue;
            }
            if let Err(e) = self.flush(port) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    // ---- state ----

    /// `get` reads `(name, user key)` for `entry`, where the user key is
    /// `self.user_key` if `keyed_by_scratch`, else empty; the value is valid
    /// until the next state call. ABI §5: a value larger than the buffer is
    /// read again into one of its size.
    #[inline]
    pub(crate) fn get(
        &mut self,
        entry: u32,
        name: &'static str,
        keyed_by_scratch: bool,
    ) -> Result<Option<&[u8]>, Error> {
        let uk: &[u8] = if keyed_by_scratch {
            &self.user_key
        } else {
            &[]
        };
        let n = sys::state_get(entry, name.as_bytes(), uk, &mut self.get);
        if n >= 0 && (n as u64) <= self.get.len() as u64 {
            return Ok(Some(&self.get[..n as usize]));
        }
        self.get_again(entry, name, keyed_by_scratch, n)
    }

    #[cold]
    fn get_again(
        &mut self,
        entry: u32,
        name: &'static str,
        keyed_by_scratch: bool,
        mut n: i64,
    ) -> Result<Option<&[u8]>, Error> {
        let in_big = loop {
            if n == -(Code::NOT_FOUND.get() as i64) {
                return Ok(None);
            }
            if n < 0 {
                let code = Code::from_raw(n.unsigned_abs().min(u32::MAX as u64) as u32);
                return Err(self.host_failed(code, "state_get", name.as_bytes()));
            }
            if n as u64 > MAX_VALUE_BYTES as u64 {
                return Err(Error::sdk(
                    Code::LIMIT_EXCEEDED,
                    format!("state_get {:?}", name),
                    format!(
                        "the host reports a value of {} bytes, over the limit of {}",
                        n, MAX_VALUE_BYTES
                    ),
                ));
            }
            let size = n as usize;
            let uk: &[u8] = if keyed_by_scratch {
                &self.user_key
            } else {
                &[]
            };
            // Values up to MAX_RETAINED_GET_BYTES are likely to be read again:
            // the buffer keeps their size.
            let in_big = size > MAX_RETAINED_GET_BYTES;
            let out = if in_big {
                self.big.clear();
                self.big.resize(size, 0);
                &mut self.big
            } else {
                self.get.resize(size, 0);
                &mut self.get
            };
            n = sys::state_get(entry, name.as_bytes(), uk, out);
            if n >= 0 && (n as u64) <= out.len() as u64 {
                break in_big;
            }
            // The value changed size between the two calls (it cannot within
            // one batch, but a host is not bound to that): try again.
        };
        let out = if in_big { &self.big } else { &self.get };
        Ok(Some(&out[..n as usize]))
    }

    /// `put_value` writes `self.value` at `(name, user key)` for `entry`, where
    /// the user key is `self.user_key` if `keyed_by_scratch`, else empty.
    #[inline]
    pub(crate) fn put_value(
        &mut self,
        entry: u32,
        name: &'static str,
        keyed_by_scratch: bool,
    ) -> Result<(), Error> {
        let uk: &[u8] = if keyed_by_scratch {
            &self.user_key
        } else {
            &[]
        };
        let code = sys::state_put(entry, name.as_bytes(), uk, &self.value);
        if code != Code::OK {
            return Err(self.host_failed(code, "state_put", name.as_bytes()));
        }
        Ok(())
    }

    /// `delete` removes `(name, user key)` for `entry`.
    pub(crate) fn delete(
        &mut self,
        entry: u32,
        name: &'static str,
        keyed_by_scratch: bool,
    ) -> Result<(), Error> {
        let uk: &[u8] = if keyed_by_scratch {
            &self.user_key
        } else {
            &[]
        };
        let code = sys::state_delete(entry, name.as_bytes(), uk);
        if code != Code::OK {
            return Err(self.host_failed(code, "state_delete", name.as_bytes()));
        }
        Ok(())
    }

    /// `clear` removes every user key of state `name` for `entry`.
    pub(crate) fn clear(&mut self, entry: u32, name: &'static str) -> Result<(), Error> {
        let code = sys::state_clear(entry, name.as_bytes());
        if code != Code::OK {
            return Err(self.host_failed(code, "state_clear", name.as_bytes()));
        }
        Ok(())
    }
}

/// `Context` is the operator's view of the entry being processed: its key,
/// timestamp and tracking id, the batch's watermark and processing time, and
/// the ways to act on them (emit records, set timers, log). State handles
/// take it to know which key they read and write.
///
/// The SDK makes one `Context` per batch and updates it for each entry; it
/// cannot outlive the call it is passed to.
pub struct Context<'b> {
    pub(crate) core: &'b mut Core,
    pub(crate) entry: u32,
    pub(crate) key: &'b [u8],
    pub(crate) timestamp: i64,
    pub(crate) tracking_id: u64,
    watermark: i64,
    processing_time: i64,
}

impl<'b> Context<'b> {
    /// `key` returns the key of the entry being processed: the record's key,
    /// or the key the timer was set for. State and timers are scoped to it.
    #[inline]
    pub fn key(&self) -> &'b [u8] {
        self.key
    }

    /// `timestamp` returns the event time of the entry being processed, in
    /// ms: the record's timestamp ([`NO_TIMESTAMP`] if it has none) or the
    /// timer's time; while a window fires, the window's max timestamp.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// `tracking_id` returns the tracking id of the entry being processed (0
    /// for timers, and for records that derive from no input message).
    #[inline]
    pub fn tracking_id(&self) -> u64 {
        self.tracking_id
    }

    /// `watermark` returns the operator's event-time watermark in ms when the
    /// batch started, or [`NO_TIMESTAMP`] if none is known yet. Every record
    /// with a timestamp at or below it is late.
    #[inline]
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// `processing_time` returns the host's processing time in ms when the
    /// batch started. It is the one non-deterministic input of ABI v1 (ABI
    /// §7.3): output that depends on it is not replayed identically.
    #[inline]
    pub fn processing_time(&self) -> i64 {
        self.processing_time
    }

    /// `entry` returns the index of the entry being processed in its batch.
    #[inline]
    pub fn entry(&self) -> u32 {
        self.entry
    }

    /// `emit` sends a record of `key` and `value` to the main output (port
    /// 0), with the timestamp and tracking id of the entry being processed.
    /// See [`Context::emit_output`].
    #[inline]
    pub fn emit(&mut self, key: &[u8], value: &[u8]) {
        let (ts, tid) = (self.timestamp, self.tracking_id);
        self.core.put(0, key, value, &[], ts, tid);
    }

    /// `emit_to` sends a record of `key` and `value` to output `port` (0 is
    /// the main output, 1..=255 side outputs that a job wires by number),
    /// with the timestamp and tracking id of the entry being processed.
    #[inline]
    pub fn emit_to(&mut self, port: u8, key: &[u8], value: &[u8]) {
        let (ts, tid) = (self.timestamp, self.tracking_id);
        self.core.put(port, key, value, &[], ts, tid);
    }

    /// `emit_output` sends `out` to output `port`.
    ///
    /// Emitting copies the record into a per-port buffer that is handed to
    /// the host in one call at the end of the batch (or once it passes 1
    /// MiB), so it makes no host call and, once the buffer has grown, no
    /// allocation. It returns nothing: a record that cannot be emitted (key
    /// or value over the limits of ABI §9, malformed headers) or a buffer the
    /// host rejects fails the batch, as if the operator had returned the
    /// error, once the current callback returns.
    #[inline]
    pub fn emit_output(&mut self, port: u8, out: &Output<'_>) {
        if !out.headers.is_empty() {
            if let Err(e) = abi::Headers::new(out.headers).check() {
                if self.core.emit_err.is_none() {
                    self.core.emit_err = Some(Error::sdk(
                        Code::MALFORMED,
                        "emit",
                        format!("record headers: {}", e.message()),
                    ));
                }
                return;
            }
        }
        let ts = out.timestamp.unwrap_or(self.timestamp);
        let tid = out.tracking_id.unwrap_or(self.tracking_id);
        self.core
            .put(port, out.key, out.value, out.headers, ts, tid);
    }

    /// `set_event_timer` registers an event-time timer at `ms` for the
    /// current key: once the watermark reaches `ms`, `on_timer` runs with a
    /// timer of that time and key. Setting a timer that exists is a no-op:
    /// there is at most one timer per key, kind and time. The operator's input
    /// must be keyed (else the host returns NOT_ALLOWED).
    pub fn set_event_timer(&mut self, ms: i64) -> Result<(), Error> {
        self.timer(true, TimerKind::EventTime, ms)
    }

    /// `delete_event_timer` removes the current key's event-time timer at
    /// `ms`, if any.
    pub fn delete_event_timer(&mut self, ms: i64) -> Result<(), Error> {
        self.timer(false, TimerKind::EventTime, ms)
    }

    /// `set_processing_timer` registers a processing-time timer at `ms` for
    /// the current key; see [`Context::set_event_timer`]. Output that depends
    /// on it is not replayed identically (ABI §7.3).
    pub fn set_processing_timer(&mut self, ms: i64) -> Result<(), Error> {
        self.timer(true, TimerKind::ProcessingTime, ms)
    }

    /// `delete_processing_timer` removes the current key's processing-time
    /// timer at `ms`, if any.
    pub fn delete_processing_timer(&mut self, ms: i64) -> Result<(), Error> {
        self.timer(false, TimerKind::ProcessingTime, ms)
    }

    #[inline]
    fn timer(&mut self, set: bool, kind: TimerKind, ms: i64) -> Result<(), Error> {
        let code = if set {
            sys::timer_set(self.entry, kind as u32, ms)
        } else {
            sys::timer_delete(self.entry, kind as u32, ms)
        };
        if code != Code::OK {
            let op = if set { "timer_set" } else { "timer_delete" };
            return Err(self.core.host_failed(code, op, b""));
        }
        Ok(())
    }

    /// `call` sends `request` to the job's endpoint named `endpoint` with the
    /// idempotency key `key` (ABI §5.3) and returns its response. The host
    /// journals the response in the current key's state before returning it:
    /// a replay after a restore, or a later call with the same key, gets the
    /// journaled response without calling the endpoint again. A call whose
    /// response was not journaled (the job restarted from an earlier
    /// checkpoint) is sent again with the same key, so the endpoint must
    /// deduplicate by key (for HTTP, the `Idempotency-Key` header). It blocks
    /// until the response arrives or the endpoint's time-out passes.
    ///
    /// A failure's code says why: NOT_FOUND (no such endpoint in the job
    /// spec), UNAVAILABLE (no response; failing the batch retries it with the
    /// same key), BAD_ARGUMENT (an empty name or key, or a key used before
    /// with another request), LIMIT_EXCEEDED, NOT_ALLOWED (the input is not
    /// keyed).
    pub fn call(&mut self, endpoint: &str, request: &[u8], key: &[u8]) -> Result<Response, Error> {
        let mut out = vec![0u8; 4096];
        for _ in 0..2 {
            let n = sys::call(self.entry, endpoint.as_bytes(), request, key, &mut out);
            if n < 0 {
                return Err(self.core.host_failed(Code::from_raw((-n) as u32), "call", endpoint.as_bytes()));
            }
            let n = n as usize;
            if n < 4 {
                return Err(self.core.host_failed(Code::INTERNAL, "call", endpoint.as_bytes()));
            }
            if n <= out.len() {
                let status = u32::from_le_bytes([out[0], out[1], out[2], out[3]]);
                out.truncate(n);
                out.drain(..4);
                return Ok(Response { status, body: out });
            }
            // The second call is answered from the journal.
            out = vec![0u8; n];
        }
        Err(self.core.host_failed(Code::INTERNAL, "call", endpoint.as_bytes()))
    }

    /// `log` writes `msg` to the host log at `level`, tagged by the host with
    /// the operator and subtask.
    pub fn log(&mut self, level: Level, msg: &str) {
        sys::log(level as i32, msg.as_bytes());
    }

    /// `log_fmt` is [`Context::log`] of formatted text:
    /// `ctx.log_fmt(Level::Warn, format_args!("odd value {}", v))`. It reuses
    /// a buffer of the instance, so it does not allocate once that has grown.
    pub fn log_fmt(&mut self, level: Level, args: fmt::Arguments<'_>) {
        use std::fmt::Write;
        let s = &mut self.core.fmt;
        s.clear();
        let _ = s.write_fmt(args);
        sys::log(level as i32, s.as_bytes());
    }
}

/// `Level` is the level of a log message; the values are those of the `log`
/// host function (ABI §5), which are Go's `log/slog` levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// `Debug` is -4.
    Debug = -4,
    /// `Info` is 0.
    Info = 0,
    /// `Warn` is 4.
    Warn = 4,
    /// `Error` is 8.
    Error = 8,
}

/// `log` writes `msg` to the host log at `level`. It works everywhere,
/// including in [`crate::Operator::init`], where there is no [`Context`].
pub fn log(level: Level, msg: &str) {
    sys::log(level as i32, msg.as_bytes());
}

/// `run_batch` runs the batch `batch` through `op`: it decodes each entry in
/// place (ABI §4.2), stores its index in the header's cursor if
/// `write_cursor` (ABI §4.4), calls `process` or `on_timer`, and flushes the
/// emitted records, one emit call per port, at the end.
#[inline]
pub(crate) fn run_batch<O: Operator>(
    op: &mut O,
    core: &mut Core,
    batch: &mut [u8],
    write_cursor: bool,
) -> Result<(), Failure> {
    core.begin_batch();
    if batch.len() < BATCH_HEADER_BYTES || le_u32(batch, 0) != MAGIC {
        return Err(malformed(batch));
    }
    let (head, body) = batch.split_at_mut(BATCH_HEADER_BYTES);
    let body: &[u8] = body;
    let count = le_u32(head, 4);
    let mut ctx = Context {
        core,
        entry: 0,
        key: &[],
        timestamp: NO_TIMESTAMP,
        tracking_id: 0,
        watermark: le_u64(head, 8) as i64,
        processing_time: le_u64(head, 16) as i64,
    };
    let size = body.len() as u64;
    let mut off = 0usize;
    for i in 0..count {
        if body.len() - off < ENTRY_HEADER_BYTES {
            return Err(malformed_input(head, body));
        }
        let h = &body[off..off + ENTRY_HEADER_BYTES];
        let k = off + ENTRY_HEADER_BYTES;
        let v = k as u64 + le_u32(h, 4) as u64;
        let hs = v + le_u32(h, 8) as u64;
        let end = hs + le_u32(h, 12) as u64;
        if end > size {
            return Err(malformed_input(head, body));
        }
        let (v, hs, end) = (v as usize, hs as usize, end as usize);
        if write_cursor {
            head[OFF_CURSOR..OFF_CURSOR + 4].copy_from_slice(&i.to_le_bytes());
        }
        let key = &body[k..v];
        let ts = le_u64(h, 16) as i64;
        let tid = le_u64(h, 24);
        ctx.entry = i;
        ctx.key = key;
        ctx.timestamp = ts;
        ctx.tracking_id = tid;
        let r = match h[0] {
            KIND_RECORD => op.process(
                &mut ctx,
                &Record {
                    key,
                    value: &body[v..hs],
                    headers: abi::Headers::new(&body[hs..end]),
                    timestamp: ts,
                    tracking_id: tid,
                },
            ),
            KIND_EVENT_TIMER | KIND_PROCESSING_TIMER => {
                let kind = if h[0] == KIND_EVENT_TIMER {
                    TimerKind::EventTime
                } else {
                    TimerKind::ProcessingTime
                };
                op.on_timer(
                    &mut ctx,
                    &Timer {
                        kind,
                        time: ts,
                        key,
                    },
                )
            }
            kind => {
                return Err(Failure {
                    entry: Some(i),
                    code: Code::MALFORMED,
                    err: Error::sdk(
                        Code::MALFORMED,
                        "input batch",
                        format!("unknown entry kind {}", kind),
                    ),
                })
            }
        };
        if r.is_err() || ctx.core.emit_err.is_some() || ctx.core.internal_err.is_some() {
            if let Some((code, err)) = ctx.core.outcome(r) {
                return Err(Failure {
                    entry: Some(i),
                    code,
                    err,
                });
            }
        }
        off = end;
    }
    let core = ctx.core;
    let r = core.flush_all();
    if r.is_err() || core.internal_err.is_some() {
        if let Some((code, err)) = core.outcome(r) {
            return Err(Failure {
                entry: None,
                code,
                err,
            });
        }
    }
    Ok(())
}

#[cold]
fn malformed(batch: &[u8]) -> Failure {
    let why = match abi::read_batch(batch, false) {
        Err(e) => e.to_string(),
        Ok(_) => "malformed batch".to_string(),
    };
    Failure {
        entry: None,
        code: Code::MALFORMED,
        err: Error::sdk(Code::MALFORMED, "input batch", why),
    }
}

#[cold]
fn malformed_input(head: &[u8], body: &[u8]) -> Failure {
    let mut b = head.to_vec();
    b.extend_from_slice(body);
    malformed(&b)
}

/// `Response` is an endpoint's answer to [`Context::call`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `status` is the HTTP status code for HTTP endpoints.
    pub status: u32,
    /// `body` is the response body.
    pub body: Vec<u8>,
}
