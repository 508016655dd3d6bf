//! Status codes (ABI §8) and the SDK's error type.

use std::borrow::Cow;
use std::fmt;

/// `Code` is a status code of ABI v1 (ABI §8): what host functions return and
/// what an operator returns for a batch. 0 is success; 1..=99 are defined by
/// the ABI; 100..=65535 are the operator's own.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Code(u32);

impl Code {
    /// `OK` is success.
    pub const OK: Code = Code(0);
    /// `NOT_FOUND`: state_get found no value for that key.
    pub const NOT_FOUND: Code = Code(1);
    /// `BUFFER_TOO_SMALL`: state_scan's buffer cannot hold the next pair.
    pub const BUFFER_TOO_SMALL: Code = Code(2);
    /// `OUT_OF_BOUNDS`: a pointer/length pair lies outside guest memory.
    pub const OUT_OF_BOUNDS: Code = Code(3);
    /// `BAD_ENTRY`: the entry index is not one of the current batch.
    pub const BAD_ENTRY: Code = Code(4);
    /// `BAD_ARGUMENT`: a bad state name, timer kind or port.
    pub const BAD_ARGUMENT: Code = Code(5);
    /// `LIMIT_EXCEEDED`: a key, value or emitted batch is over a limit of ABI §9.
    pub const LIMIT_EXCEEDED: Code = Code(6);
    /// `MALFORMED`: an emitted batch is not valid (ABI §4.3).
    pub const MALFORMED: Code = Code(7);
    /// `NOT_ALLOWED`: no current batch, or state and timers on an input that
    /// is not keyed.
    pub const NOT_ALLOWED: Code = Code(8);
    /// `INTERNAL`: the host failed; the batch fails even if the operator
    /// ignores the error.
    pub const INTERNAL: Code = Code(9);
    /// `UNAVAILABLE` (ABI 1.1): [`crate::Context::call`] got no response (a
    /// time-out, a failed connection, a retry-later answer); calling again
    /// with the same idempotency key is safe.
    pub const UNAVAILABLE: Code = Code(10);
    /// `FIRST_GUEST` is the lowest code an operator may use for errors of its own.
    pub const FIRST_GUEST: Code = Code(100);
    /// `ERROR` is the code a batch fails with when the operator's error has no
    /// guest code of its own (a failed host call, a codec error).
    pub const ERROR: Code = Code(100);
    /// `MAX` is the highest status code.
    pub const MAX: Code = Code(65535);

    /// `from_raw` returns the code with value `c`, whatever it is (host
    /// results are read with it).
    #[inline]
    pub const fn from_raw(c: u32) -> Code {
        Code(c)
    }

    /// `get` returns the numeric value of the code.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `is_guest` reports whether the code is an operator's own (100..=65535).
    #[inline]
    pub const fn is_guest(self) -> bool {
        self.0 >= Code::FIRST_GUEST.0 && self.0 <= Code::MAX.0
    }

    /// `name` returns the ABI name of a code of ABI v1 ("NOT_FOUND"), or None.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "OK",
            1 => "NOT_FOUND",
            2 => "BUFFER_TOO_SMALL",
            3 => "OUT_OF_BOUNDS",
            4 => "BAD_ENTRY",
            5 => "BAD_ARGUMENT",
            6 => "LIMIT_EXCEEDED",
            7 => "MALFORMED",
            8 => "NOT_ALLOWED",
            9 => "INTERNAL",
            10 => "UNAVAILABLE",
            _ => return None,
        })
    }
}

impl fmt::Display for Code {
    /// Formats the ABI name ("NOT_FOUND"), "GUEST_ERROR(n)" for an operator's
    /// code and "UNKNOWN(n)" for a code ABI v1 does not define, as the Go SDK
    /// does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None if self.is_guest() => write!(f, "GUEST_ERROR({})", self.0),
            None => write!(f, "UNKNOWN({})", self.0),
        }
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `Error` is a failure with an ABI status code: an operator's own error
/// ([`Error::new`], [`Error::msg`]), a host call that did not return OK
/// (`op` names it, for example `state_put "count"`), or a check the SDK made
/// in the host's place.
///
/// Returned from [`crate::Operator::process`] or `on_timer`, it fails the
/// batch: the host discards the batch's state writes, timers and emits, and
/// the job restarts from its last checkpoint. The batch's status code is
/// [`Error::batch_code`].
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    code: Code,
    op: Cow<'static, str>,
    msg: Cow<'static, str>,
}

impl Error {
    /// `new` returns an operator error with status code `code`, which should
    /// be in 100..=65535: a code outside it becomes [`Code::ERROR`] (100), so
    /// that an operator cannot pose as the host.
    pub fn new(code: u32, msg: impl Into<Cow<'static, str>>) -> Error {
        let code = Code(code);
        Error {
            code: if code.is_guest() { code } else { Code::ERROR },
            op: Cow::Borrowed(""),
            msg: msg.into(),
        }
    }

    /// `msg` returns an operator error with the code [`Code::ERROR`] (100).
    pub fn msg(msg: impl Into<Cow<'static, str>>) -> Error {
        Error {
            code: Code::ERROR,
            op: Cow::Borrowed(""),
            msg: msg.into(),
        }
    }

    /// `sdk` returns an error of the SDK's own with an ABI code (below 100)
    /// for the operation `op`.
    pub(crate) fn sdk(
        code: Code,
        op: impl Into<Cow<'static, str>>,
        msg: impl Into<Cow<'static, str>>,
    ) -> Error {
        Error {
            code,
            op: op.into(),
            msg: msg.into(),
        }
    }

    /// `host` returns the error of host call `op` on state `name` (if any)
    /// that returned `code`.
    pub(crate) fn host(code: Code, op: &'static str, name: &[u8]) -> Error {
        let op = if name.is_empty() {
            Cow::Borrowed(op)
        } else {
            Cow::Owned(format!("{} {:?}", op, String::from_utf8_lossy(name)))
        };
        Error {
            code,
            op,
            msg: Cow::Borrowed(""),
        }
    }

    /// `code` returns the error's status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// `op` returns the host call or SDK operation that failed, or "" for an
    /// operator's own error.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// `message` returns what went wrong, without the operation and the code.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// `batch_code` returns the status code a batch fails with when the
    /// operator returns this error: its own code if it is a guest code
    /// (100..=65535), else [`Code::ERROR`]. (A host call that returned
    /// INTERNAL fails the batch with INTERNAL whatever the operator returns.)
    pub fn batch_code(&self) -> Code {
        if self.code.is_guest() {
            self.code
        } else {
            Code::ERROR
        }
    }

    /// `context` returns the error with `what: ` put before its message, to
    /// say where it happened (for example the state it concerns).
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.msg = if self.msg.is_empty() {
            Cow::Owned(what.to_string())
        } else {
            Cow::Owned(format!("{}: {}", what, self.msg))
        };
        self
    }
}

impl fmt::Display for Error {
    /// Formats `op: message (CODE)`, leaving out what is empty, as the Go SDK
    /// does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.op.is_empty() {
            write!(f, "{}: ", self.op)?;
        }
        if self.msg.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.msg, self.code)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({})", self)
    }
}

impl std::error::Error for Error {}
