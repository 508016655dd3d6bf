//! Native unit tests of operators: a [`Harness`] runs an operator in-process
//! over an in-memory host whose keyed state, timers and outputs behave like
//! the runtime's, including that a failed batch leaves no state, timer or
//! output behind (ABI §8). It exists in native builds only.
//!
//! ```
//! use weir::testing::Harness;
//! use weir::{Context, Error, Operator, Record, ValueState};
//!
//! const COUNT: ValueState<i64> = ValueState::new("count");
//!
//! struct Count;
//!
//! impl Operator for Count {
//!     fn process(&mut self, ctx: &mut Context, rec: &Record) -> Result<(), Error> {
//!         let n = COUNT.get(ctx)?.unwrap_or(0) + 1;
//!         COUNT.set(ctx, &n)?;
//!         let mut buf = [0u8; 20];
//!         ctx.emit(rec.key, weir::text::format_i64(n, &mut buf));
//!         Ok(())
//!     }
//! }
//!
//! let mut h = Harness::new(Count, b"").unwrap();
//! h.process(&[Record::new(b"go", b""), Record::new(b"rust", b""), Record::new(b"go", b"")])
//!     .unwrap();
//! let got: Vec<_> = h.output(0).iter().map(|r| r.value.clone()).collect();
//! assert_eq!(got, [b"1".to_vec(), b"1".to_vec(), b"2".to_vec()]);
//! ```
//!
//! Time is the test's to move: [`Harness::advance_watermark`] fires due
//! event-time timers (in time order, then key order, as batches of timer
//! entries), [`Harness::advance_processing_time`] the processing-time ones.

use crate::abi::{
    read_batch, BatchWriter, Entry, KIND_EVENT_TIMER, KIND_PROCESSING_TIMER, KIND_RECORD,
    MAX_KEY_BYTES, MAX_PORT, MAX_STATE_NAME_BYTES, MAX_VALUE_BYTES, NO_TIMESTAMP,
};
use crate::context::{run_batch, Core};
use crate::error::{Code, Error};
use crate::record::{Record, TimerKind};
use crate::sys::native::{self, Host};
use crate::Operator;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

/// `MAX_TIMER_ROUNDS` bounds the batches of timers one advance delivers: each
/// round fires the timers that are due, which may set new due timers. An
/// operator that keeps doing so fails the call instead of hanging the test.
const MAX_TIMER_ROUNDS: usize = 10_000;

/// `StateKey` is (record key, state name, user key), the host's view of a
/// state entry without the key group.
type StateKey = (Vec<u8>, Vec<u8>, Vec<u8>);

/// `TimerKey` is (kind, time, key): one pending timer.
type TimerKey = (u8, i64, Vec<u8>);

/// `Endpoint` answers a call ([`crate::Context::call`]) to an endpoint of the
/// job, given the request and the idempotency key: the response's status and
/// body, or None for no response (the call fails with UNAVAILABLE).
pub type Endpoint = Box<dyn FnMut(&[u8], &[u8]) -> Option<(u32, Vec<u8>)>>;

/// `call_state` is the state name under which the host journals calls: one
/// no operator can use (names are 1..255 bytes, and this one is 256), as in
/// the Go SDK's weirtest.
fn call_state() -> Vec<u8> {
    vec![0u8; MAX_STATE_NAME_BYTES + 1]
}

/// `Saved` is the state and timers of a host when a batch began.
type Saved = (BTreeMap<StateKey, Vec<u8>>, BTreeSet<TimerKey>);

/// `MemHost` is the in-memory host of a harness (ABI §5).
#[derive(Default)]
struct MemHost {
    keyed: bool,
    /// `keys` are the keys of the entries of the batch in progress; None
    /// outside a batch (state, timer and emit calls are NOT_ALLOWED then).
    keys: Option<Vec<Vec<u8>>>,
    state: BTreeMap<StateKey, Vec<u8>>,
    timers: BTreeSet<TimerKey>,
    emitted: Vec<(u8, Vec<u8>)>,
    logs: Vec<(i32, String)>,
    /// `saved` is the state and timers when the batch began.
    saved: Option<Saved>,
    /// `fail` is the code every state and timer call returns, if set.
    fail: Option<Code>,
    /// `endpoints` answer the calls, by endpoint name.
    endpoints: BTreeMap<Vec<u8>, Endpoint>,
}

impl MemHost {
    fn begin(&mut self, keys: Vec<Vec<u8>>) {
        self.saved = Some((self.state.clone(), self.timers.clone()));
        self.keys = Some(keys);
        self.emitted.clear();
    }

    /// `end` ends the batch, keeping its effects if `ok`, and returns what it
    /// emitted (nothing if not `ok`).
    fn end(&mut self, ok: bool) -> Vec<(u8, Vec<u8>)> {
        let saved = self.saved.take();
        self.keys = None;
        let emitted = std::mem::take(&mut self.emitted);
        if ok {
            return emitted;
        }
        if let Some((state, timers)) = saved {
            self.state = state;
            self.timers = timers;
        }
        Vec::new()
    }

    /// `key` returns the key of `entry`, or the code that refuses the call.
    fn key(&self, entry: u32) -> Result<Vec<u8>, Code> {
        let keys = self.keys.as_ref().ok_or(Code::NOT_ALLOWED)?;
        if let Some(c) = self.fail {
            return Err(c);
        }
        if !self.keyed {
            return Err(Code::NOT_ALLOWED);
        }
        keys.get(entry as usize).cloned().ok_or(Code::BAD_ENTRY)
    }

    fn check(&self, entry: u32, name: &[u8], user_key: &[u8]) -> Result<Vec<u8>, Code> {
        let key = self.key(entry)?;
        if name.is_empty() || name.len() > MAX_STATE_NAME_BYTES {
            return Err(Code::BAD_ARGUMENT);
        }
        if user_key.len() > MAX_KEY_BYTES {
            return Err(Code::LIMIT_EXCEEDED);
        }
        Ok(key)
    }
}

fn neg(c: Code) -> i64 {
    -(c.get() as i64)
}

impl Host for MemHost {
    fn state_get(&mut self, entry: u32, name: &[u8], user_key: &[u8], out: &mut [u8]) -> i64 {
        let key = match self.check(entry, name, user_key) {
            Ok(k) => k,
            Err(c) => return neg(c),
        };
        match self.state.get(&(key, name.to_vec(), user_key.to_vec())) {
            None => neg(Code::NOT_FOUND),
            Some(v) => {
                if v.len() <= out.len() {
                    out[..v.len()].copy_from_slice(v);
                }
                v.len() as i64
            }
        }
    }

    fn state_put(&mut self, entry: u32, name: &[u8], user_key: &[u8], value: &[u8]) -> u32 {
        let key = match self.check(entry, name, user_key) {
            Ok(k) => k,
            Err(c) => return c.get(),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Code::LIMIT_EXCEEDED.get();
        }
        self.state
            .insert((key, name.to_vec(), user_key.to_vec()), value.to_vec());
        0
    }

    fn state_delete(&mut self, entry: u32, name: &[u8], user_key: &[u8]) -> u32 {
        match self.check(entry, name, user_key) {
            Ok(key) => {
                self.state.remove(&(key, name.to_vec(), user_key.to_vec()));
                0
            }
            Err(c) => c.get(),
        }
    }

    fn state_clear(&mut self, entry: u32, name: &[u8]) -> u32 {
        match self.check(entry, name, b"") {
            Ok(key) => {
                let name = name.to_vec();
                self.state.retain(|(k, n, _), _| *k != key || *n != name);
                0
            }
            Err(c) => c.get(),
        }
    }

    fn state_scan(&mut self, entry: u32, name: &[u8], start: &[u8], out: &mut [u8]) -> i64 {
        let key = match self.check(entry, name, start) {
            Ok(k) => k,
            Err(c) => return neg(c),
        };
        let from = (key.clone(), name.to_vec(), start.to_vec());
        let mut written = 0usize;
        let mut more = false;
        for ((k, n, uk), v) in self.state.range(from..) {
            if *k != key || n != name {
                break;
            }
            let need = 8 + uk.len() + v.len();
            if written + need > out.len() {
                if written == 0 {
                    return neg(Code::BUFFER_TOO_SMALL);
                }
                more = true;
                break;
            }
            let w = &mut out[written..written + need];
            w[..4].copy_from_slice(&(uk.len() as u32).to_le_bytes());
            w[4..4 + uk.len()].copy_from_slice(uk);
            let vo = 4 + uk.len();
            w[vo..vo + 4].copy_from_slice(&(v.len() as u32).to_le_bytes());
            w[vo + 4..].copy_from_slice(v);
            written += need;
        }
        written as i64 | (more as i64) << 32
    }

    fn timer_set(&mut self, entry: u32, kind: u32, time: i64) -> u32 {
        match self.key(entry) {
            Ok(_) if kind != KIND_EVENT_TIMER as u32 && kind != KIND_PROCESSING_TIMER as u32 => {
                Code::BAD_ARGUMENT.get()
            }
            Ok(key) => {
                self.timers.insert((kind as u8, time, key));
                0
            }
            Err(c) => c.get(),
        }
    }

    fn timer_delete(&mut self, entry: u32, kind: u32, time: i64) -> u32 {
        match self.key(entry) {
            Ok(_) if kind != KIND_EVENT_TIMER as u32 && kind != KIND_PROCESSING_TIMER as u32 => {
                Code::BAD_ARGUMENT.get()
            }
            Ok(key) => {
                self.timers.remove(&(kind as u8, time, key));
                0
            }
            Err(c) => c.get(),
        }
    }

    fn emit(&mut self, port: u32, batch: &[u8]) -> u32 {
        if self.keys.is_none() {
            return Code::NOT_ALLOWED.get();
        }
        if port > MAX_PORT as u32 {
            return Code::BAD_ARGUMENT.get();
        }
        if read_batch(batch, true).is_err() {
            return Code::MALFORMED.get();
        }
        self.emitted.push((port as u8, batch.to_vec()));
        0
    }

    fn log(&mut self, level: i32, msg: &[u8]) {
        self.logs
            .push((level, String::from_utf8_lossy(msg).into_owned()));
    }

    /// `call` journals responses under (record key, idempotency key) as the
    /// runtime does (ABI §5.3), undone with the rest of a failed batch. A
    /// journal value is the request's length (u32 LE), the request, and the
    /// response as the guest reads it (u32 LE status, body).
    fn call(
        &mut self,
        entry: u32,
        endpoint: &[u8],
        request: &[u8],
        key: &[u8],
        out: &mut [u8],
    ) -> i64 {
        let record_key = match self.key(entry) {
            Ok(k) => k,
            Err(c) => return neg(c),
        };
        if endpoint.is_empty() || endpoint.len() > MAX_STATE_NAME_BYTES || key.is_empty() {
            return neg(Code::BAD_ARGUMENT);
        }
        if key.len() > MAX_KEY_BYTES || request.len() > MAX_VALUE_BYTES {
            return neg(Code::LIMIT_EXCEEDED);
        }
        let journal_key = (record_key, call_state(), key.to_vec());
        let response = match self.state.get(&journal_key) {
            Some(v) => {
                let n = u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize;
                if &v[4..4 + n] != request {
                    return neg(Code::BAD_ARGUMENT);
                }
                v[4 + n..].to_vec()
            }
            None => {
                let answer = match self.endpoints.get_mut(endpoint) {
                    Some(ep) => ep(request, key),
                    None => return neg(Code::NOT_FOUND),
                };
                let (status, body) = match answer {
                    Some(r) => r,
                    None => return neg(Code::UNAVAILABLE),
                };
                let mut response = status.to_le_bytes().to_vec();
                response.extend_from_slice(&body);
                let mut v = (request.len() as u32).to_le_bytes().to_vec();
                v.extend_from_slice(request);
                v.extend_from_slice(&response);
                self.state.insert(journal_key, v);
                response
            }
        };
        if response.len() <= out.len() {
            out[..response.len()].copy_from_slice(&response);
        }
        response.len() as i64
    }
}

/// `Emitted` is a record an operator emitted, as the harness collected it.
#[derive(Clone, PartialEq, Eq)]
pub struct Emitted {
    /// `key` is the record's key.
    pub key: Vec<u8>,
    /// `value` is the record's value.
    pub value: Vec<u8>,
    /// `headers` are the record's encoded headers.
    pub headers: Vec<u8>,
    /// `timestamp` is the record's event time ([`NO_TIMESTAMP`]: none).
    pub timestamp: i64,
    /// `tracking_id` is the record's tracking id.
    pub tracking_id: u64,
}

impl Emitted {
    /// `record` returns a view of the record.
    pub fn record(&self) -> Record<'_> {
        Record {
            key: &self.key,
            value: &self.value,
            headers: crate::abi::Headers::new(&self.headers),
            timestamp: self.timestamp,
            tracking_id: self.tracking_id,
        }
    }
}

impl fmt::Debug for Emitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.record().fmt(f)
    }
}

/// `BatchError` is the failure of a batch run by a [`Harness`]: the entry
/// being processed (None: not tied to one), the status code the Wasm build
/// returns for the same failure, and the message it hands to set_error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// `entry` is the index of the entry that failed.
    pub entry: Option<u32>,
    /// `code` is the batch's status code.
    pub code: Code,
    /// `message` says what failed.
    pub message: String,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "batch failed with {}: {}", self.code, self.message)
    }
}

impl std::error::Error for BatchError {}

/// `Harness` runs one operator instance natively over an in-memory host:
/// keyed state scoped like the runtime's, event-time and processing-time
/// timers, a watermark and a processing time that the test advances, and the
/// records emitted to each port. The watermark starts at [`NO_TIMESTAMP`] and
/// the processing time at 0. A panic in the operator is a panic of the test.
pub struct Harness<O> {
    op: O,
    core: Core,
    host: Rc<RefCell<MemHost>>,
    watermark: i64,
    processing_time: i64,
    out: BTreeMap<u8, Vec<Emitted>>,
}

impl<O: Operator> Harness<O> {
    /// `new` runs `op.init(config)` and returns a harness over a keyed input.
    pub fn new(mut op: O, config: &[u8]) -> Result<Self, Error> {
        op.init(config)?;
        Ok(Harness {
            op,
            core: Core::new(),
            host: Rc::new(RefCell::new(MemHost {
                keyed: true,
                ..MemHost::default()
            })),
            watermark: NO_TIMESTAMP,
            processing_time: 0,
            out: BTreeMap::new(),
        })
    }

    /// `unkeyed` makes the input not key-partitioned: every state and timer
    /// call returns NOT_ALLOWED (ABI §6).
    pub fn unkeyed(self) -> Self {
        self.host.borrow_mut().keyed = false;
        self
    }

    /// `with_endpoint` makes [`crate::Context::call`] to `name` reach `ep`.
    /// Responses are journaled per record key and idempotency key, as the
    /// runtime does: `ep` sees each key once, unless a batch that called it
    /// failed or it gave no response.
    pub fn with_endpoint(
        self,
        name: &str,
        ep: impl FnMut(&[u8], &[u8]) -> Option<(u32, Vec<u8>)> + 'static,
    ) -> Self {
        self.host
            .borrow_mut()
            .endpoints
            .insert(name.as_bytes().to_vec(), Box::new(ep));
        self
    }

    /// `restart` replaces the operator with `op` (its `init` runs with
    /// `config`), keeping state, timers, the call journal, watermark,
    /// processing time and output: what a restart from a checkpoint looks
    /// like to an operator that keeps nothing outside state.
    pub fn restart(&mut self, mut op: O, config: &[u8]) -> Result<(), Error> {
        op.init(config)?;
        self.op = op;
        self.core = Core::new();
        Ok(())
    }

    /// `fail_host_calls` makes every state and timer call of the following
    /// batches return `code` (None: succeed again), to test how an operator
    /// deals with host failures: a call that returns INTERNAL fails the
    /// batch with INTERNAL even if the operator ignores it (ABI §8).
    pub fn fail_host_calls(&mut self, code: Option<Code>) {
        self.host.borrow_mut().fail = code;
    }

    /// `operator` returns the operator.
    pub fn operator(&mut self) -> &mut O {
        &mut self.op
    }

    /// `process` runs `records` through the operator as one batch, with the
    /// current watermark and processing time. Records are taken as they are.
    pub fn process(&mut self, records: &[Record<'_>]) -> Result<(), BatchError> {
        let mut w = BatchWriter::new(self.watermark, self.processing_time);
        let mut keys = Vec::with_capacity(records.len());
        for r in records {
            w.push(&Entry {
                kind: KIND_RECORD,
                key: r.key.to_vec(),
                value: r.value.to_vec(),
                headers: r.headers.as_bytes().to_vec(),
                timestamp: r.timestamp,
                tracking_id: r.tracking_id,
            });
            keys.push(r.key.to_vec());
        }
        self.host.borrow_mut().begin(keys);
        self.run(w.finish())
    }

    /// `advance_watermark` sets the watermark to `ms` and fires every
    /// event-time timer at or before it, ordered by time and then key, as
    /// batches of timer entries whose header carries the new watermark.
    /// Timers that firing sets at or before `ms` fire in a further batch. The
    /// watermark stays advanced after a failed batch.
    pub fn advance_watermark(&mut self, ms: i64) -> Result<(), BatchError> {
        if ms < self.watermark {
            return Err(BatchError {
                entry: None,
                code: Code::BAD_ARGUMENT,
                message: format!(
                    "watermark {} is behind the current one, {}",
                    ms, self.watermark
                ),
            });
        }
        self.watermark = ms;
        self.fire(TimerKind::EventTime, ms)
    }

    /// `advance_processing_time` sets the processing time to `ms` and fires
    /// every processing-time timer at or before it, like
    /// [`Harness::advance_watermark`].
    pub fn advance_processing_time(&mut self, ms: i64) -> Result<(), BatchError> {
        if ms < self.processing_time {
            return Err(BatchError {
                entry: None,
                code: Code::BAD_ARGUMENT,
                message: format!(
                    "processing time {} is behind the current one, {}",
                    ms, self.processing_time
                ),
            });
        }
        self.processing_time = ms;
        self.fire(TimerKind::ProcessingTime, ms)
    }

    fn fire(&mut self, kind: TimerKind, ms: i64) -> Result<(), BatchError> {
        for _ in 0..MAX_TIMER_ROUNDS {
            let mut w = BatchWriter::new(self.watermark, self.processing_time);
            let mut keys = Vec::new();
            {
                let mut host = self.host.borrow_mut();
                host.begin(Vec::new());
                let mut due: Vec<(i64, Vec<u8>)> = host
                    .timers
                    .iter()
                    .filter(|(k, t, _)| *k == kind as u8 && *t <= ms)
                    .map(|(_, t, key)| (*t, key.clone()))
                    .collect();
                if due.is_empty() {
                    host.end(true);
                    return Ok(());
                }
                due.sort();
                for (t, key) in due {
                    host.timers.remove(&(kind as u8, t, key.clone()));
                    w.push(&Entry {
                        kind: kind as u8,
                        key: key.clone(),
                        timestamp: t,
                        ..Entry::default()
                    });
                    keys.push(key);
                }
                host.keys = Some(keys);
            }
            self.run(w.finish())?;
        }
        Err(BatchError {
            entry: None,
            code: Code::ERROR,
            message: format!(
                "{} timers kept firing for {} batches",
                kind, MAX_TIMER_ROUNDS
            ),
        })
    }

    /// `run` processes `batch`, whose host batch was begun, and commits or
    /// rolls back.
    fn run(&mut self, mut batch: Vec<u8>) -> Result<(), BatchError> {
        let r = {
            let _installed = native::install(self.host.clone());
            run_batch(&mut self.op, &mut self.core, &mut batch, true)
        };
        let emitted = self.host.borrow_mut().end(r.is_ok());
        for (port, b) in emitted {
            let (_, entries) = read_batch(&b, true).expect("the host validated the batch");
            let out = self.out.entry(port).or_default();
            out.extend(entries.into_iter().map(|e| Emitted {
                key: e.key,
                value: e.value,
                headers: e.headers,
                timestamp: e.timestamp,
                tracking_id: e.tracking_id,
            }));
        }
        r.map_err(|f| BatchError {
            entry: f.entry,
            code: f.code,
            message: f.to_string(),
        })
    }

    /// `output` returns the records emitted to `port` so far, in order.
    pub fn output(&self, port: u8) -> &[Emitted] {
        self.out.get(&port).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// `ports` returns the ports that have output, in ascending order.
    pub fn ports(&self) -> Vec<u8> {
        self.out
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(p, _)| *p)
            .collect()
    }

    /// `clear_output` forgets the output collected so far.
    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    /// `watermark` returns the current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// `state` returns the user keys and values of state `name` for the
    /// record key `key`, in user key order.
    pub fn state(&self, name: &str, key: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.host
            .borrow()
            .state
            .iter()
            .filter(|((k, n, _), _)| k == key && n == name.as_bytes())
            .map(|((_, _, uk), v)| (uk.clone(), v.clone()))
            .collect()
    }

    /// `timers` returns the pending timers as (kind, time, key), ordered by
    /// kind, time and key.
    pub fn timers(&self) -> Vec<(TimerKind, i64, Vec<u8>)> {
        self.host
            .borrow()
            .timers
            .iter()
            .map(|(k, t, key)| {
                let kind = if *k == KIND_EVENT_TIMER {
                    TimerKind::EventTime
                } else {
                    TimerKind::ProcessingTime
                };
                (kind, *t, key.clone())
            })
            .collect()
    }

    /// `logs` returns the messages the operator logged so far, with their
    /// levels.
    pub fn logs(&self) -> Vec<(i32, String)> {
        self.host.borrow().logs.clone()
    }
}
