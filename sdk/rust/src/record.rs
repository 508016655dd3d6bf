//! Records, timers and what an operator emits.

use crate::abi::{Headers, KIND_EVENT_TIMER, KIND_PROCESSING_TIMER, NO_TIMESTAMP};
use std::fmt;

/// `Record` is one data record handed to [`crate::Operator::process`]. Its
/// slices borrow the input batch and are valid during the call only: state
/// writes and emits copy them; copy anything else you keep.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// `key` is the record's key; on a keyed input, state and timers are
    /// scoped to it.
    pub key: &'a [u8],
    /// `value` is the record's payload.
    pub value: &'a [u8],
    /// `headers` are the record's headers, in order.
    pub headers: Headers<'a>,
    /// `timestamp` is the event time in ms since the Unix epoch, or
    /// [`NO_TIMESTAMP`].
    pub timestamp: i64,
    /// `tracking_id` is the id of the input message the record derives from
    /// (0: none).
    pub tracking_id: u64,
}

impl<'a> Record<'a> {
    /// `new` returns a record of `key` and `value` without headers, event
    /// time or tracking id (for tests and harnesses).
    #[inline]
    pub const fn new(key: &'a [u8], value: &'a [u8]) -> Self {
        Record {
            key,
            value,
            headers: Headers::new(&[]),
            timestamp: NO_TIMESTAMP,
            tracking_id: 0,
        }
    }

    /// `header` returns the value of the record's first header named `name`.
    #[inline]
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers.get(name)
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("key", &String::from_utf8_lossy(self.key))
            .field("value", &String::from_utf8_lossy(self.value))
            .field("headers", &self.headers)
            .field("timestamp", &self.timestamp)
            .field("tracking_id", &self.tracking_id)
            .finish()
    }
}

/// `TimerKind` says which clock a timer follows; the values are the entry
/// kinds of ABI §4.2 and the `kind` argument of `timer_set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TimerKind {
    /// `EventTime` timers fire when the watermark reaches their time.
    EventTime = KIND_EVENT_TIMER,
    /// `ProcessingTime` timers fire when the host's processing time reaches
    /// their time; output that depends on them is not replayed identically
    /// (ABI §7.3).
    ProcessingTime = KIND_PROCESSING_TIMER,
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerKind::EventTime => "event-time",
            TimerKind::ProcessingTime => "processing-time",
        })
    }
}

/// `Timer` is a fired timer, handed to [`crate::Operator::on_timer`]: the
/// key it was set for (valid during the call only) and its time in ms.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Timer<'a> {
    /// `kind` is the clock the timer followed.
    pub kind: TimerKind,
    /// `time` is the time the timer was set for, in ms.
    pub time: i64,
    /// `key` is the key the timer was set for.
    pub key: &'a [u8],
}

impl fmt::Debug for Timer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Timer({} {} key {:?})",
            self.kind,
            self.time,
            String::from_utf8_lossy(self.key)
        )
    }
}

/// `Output` is a record to emit with [`crate::Context::emit_output`]: a key
/// and a value, and optionally headers, a timestamp and a tracking id.
///
/// Timestamp and tracking id inherit from the entry being processed unless
/// set: a record's event time and tracking id, a timer's time and 0, or a
/// window's max timestamp while it fires. Inheriting the tracking id is what
/// makes an input message's acknowledgement wait for the records derived from
/// it.
///
/// ```
/// # fn f(ctx: &mut weir::Context, rec: &weir::Record) {
/// let mut h = Vec::new();
/// weir::append_header(&mut h, b"source", b"sensor-7");
/// ctx.emit_output(2, &weir::Output::new(rec.key, b"alert").with_headers(&h).with_timestamp(rec.timestamp + 1));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output<'a> {
    /// `key` is the record's key.
    pub key: &'a [u8],
    /// `value` is the record's payload.
    pub value: &'a [u8],
    /// `headers` are encoded (see [`crate::append_header`]).
    pub headers: &'a [u8],
    /// `timestamp` is None to inherit, or the event time to give the record
    /// ([`NO_TIMESTAMP`] for none).
    pub timestamp: Option<i64>,
    /// `tracking_id` is None to inherit, or the tracking id to give the record.
    pub tracking_id: Option<u64>,
}

impl<'a> Output<'a> {
    /// `new` returns a record of `key` and `value` without headers that
    /// inherits timestamp and tracking id.
    #[inline]
    pub const fn new(key: &'a [u8], value: &'a [u8]) -> Self {
        Output {
            key,
            value,
            headers: &[],
            timestamp: None,
            tracking_id: None,
        }
    }

    /// `with_headers` sets the encoded headers.
    #[inline]
    pub const fn with_headers(mut self, encoded: &'a [u8]) -> Self {
        self.headers = encoded;
        self
    }

    /// `with_timestamp` sets the event time in ms ([`NO_TIMESTAMP`]: none).
    #[inline]
    pub const fn with_timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// `with_tracking_id` sets the tracking id.
    #[inline]
    pub const fn with_tracking_id(mut self, id: u64) -> Self {
        self.tracking_id = Some(id);
        self
    }
}

impl<'a> From<&Record<'a>> for Output<'a> {
    /// `from` returns the record as it is: key, value, headers, timestamp and
    /// tracking id (for example to send a late record to a side output).
    fn from(r: &Record<'a>) -> Self {
        Output {
            key: r.key,
            value: r.value,
            headers: r.headers.as_bytes(),
            timestamp: Some(r.timestamp),
            tracking_id: Some(r.tracking_id),
        }
    }
}
