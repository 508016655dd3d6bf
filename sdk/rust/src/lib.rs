//! The Rust SDK for Weir operators: stream operators written in Rust that the
//! Weir runtime runs as sandboxed WebAssembly modules behind the Weir ABI v1
//! (`abi/ABI.md` in the Weir repository).
//!
//! An operator is a type that implements [`Operator`]: `process` runs for
//! each record of a batch, `on_timer` for each fired timer, `init` once with
//! the configuration. [`export!`] makes a crate built as a `cdylib` for
//! `wasm32-unknown-unknown` into a Weir module serving it:
//!
//! ```
//! use weir::{Context, Error, Operator, Record};
//!
//! /// Upper emits each record with its value in ASCII upper case.
//! pub struct Upper;
//!
//! impl Operator for Upper {
//!     fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
//!         let value = rec.value.to_ascii_uppercase();
//!         ctx.emit(rec.key, &value);
//!         Ok(())
//!     }
//! }
//!
//! weir::export!(Upper);
//! ```
//!
//! # What an operator can do
//!
//! Through the [`Context`] it is handed for each entry, an operator reads the
//! entry's key and timestamp, the watermark and processing time; emits
//! records to the main output ([`Context::emit`]) or to side outputs 1..=255
//! ([`Context::emit_to`], [`Context::emit_output`]); sets and deletes
//! event-time and processing-time timers for the current key; and logs.
//! Records are batched: the host hands over a batch of entries in one call,
//! and what an operator emits is handed back in one call per port at the end
//! of it.
//!
//! Keyed state is declared with handles — [`ValueState`], [`MapState`],
//! [`ListState`], [`ReducingState`], [`AggregatingState`] — that read and
//! write the state of the current entry's key only, through the [`Codec`] of
//! their types. [`WindowState`] builds event-time tumbling, sliding and
//! session windows on state and timers, with Flink's semantics. The bytes in
//! state are the Go SDK's for the same state, so either SDK's build of an
//! operator reads what the other wrote.
//!
//! # Errors and panics
//!
//! An error returned from `process` or `on_timer` fails the batch: the host
//! discards its state writes, timers and emits, and the job restarts from its
//! last checkpoint. The batch's status code is the operator's own
//! ([`Error::new`], 100..=65535) or 100; a host call that failed with
//! INTERNAL fails the batch with INTERNAL even if the operator ignored the
//! error. A panic aborts, which traps the module: the host reports the entry
//! being processed (the SDK keeps the batch's cursor, ABI §4.4) with the
//! panic message, and replaces the instance.
//!
//! # Native builds
//!
//! The crate also builds for the host's target, where the host functions are
//! served by the in-memory host of [`testing`], so that operators can be unit
//! tested with `cargo test` or `rustc --test`.

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod abi;
pub mod codec;
mod context;
mod error;
pub mod json;
mod record;
#[cfg(target_arch = "wasm32")]
mod runtime;
mod state;
mod sys;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
#[cfg(test)]
mod tests;
pub mod text;
mod window;

// The tests compile the reference operators of sdk/rust/conformance into this
// crate; they name it `weir`, as operators do.
#[cfg(test)]
extern crate self as weir;

pub use abi::{append_header, Headers, MAX_KEY_BYTES, MAX_PORT, MAX_VALUE_BYTES, NO_TIMESTAMP};
pub use codec::{Codec, Decode, Encode};
pub use context::{log, Context, Level, Response};
pub use error::{Code, Error};
pub use record::{Output, Record, Timer, TimerKind};
pub use state::{
    AggregateFunction, AggregatingState, ListState, MapState, ReducingState, ValueState,
};
pub use window::{Assigner, Window, WindowFunction, WindowState};

/// `ABI_VERSION` is the version of the Weir ABI this SDK implements: the
/// module imports `weir_v1` and exports `weir_v1_*`.
pub const ABI_VERSION: u32 = 1;

/// `Operator` is a user operator: the functions the SDK calls for the entries
/// of each batch. A module serves one operator, made by [`export!`]; each
/// instance of the module (one per subtask) has its own.
///
/// Keep what must survive a failure or a rescale in keyed state, not in the
/// operator's fields: after a failure the host replaces the instance, and the
/// job resumes from the state of its last checkpoint. Fields are for
/// configuration and caches.
pub trait Operator: 'static {
    /// `init` runs once per instance, before the first batch, with the
    /// operator's configuration (the job spec's `config` as JSON, possibly
    /// empty; see [`json`]). An error fails the instance.
    fn init(&mut self, config: &[u8]) -> Result<(), Error> {
        let _ = config;
        Ok(())
    }

    /// `process` runs for each record, in batch order.
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error>;

    /// `on_timer` runs for each fired timer. An operator that sets timers
    /// (directly or through a window) must implement it: the default fails
    /// the batch.
    fn on_timer(&mut self, ctx: &mut Context<'_>, timer: &Timer<'_>) -> Result<(), Error> {
        let _ = ctx;
        Err(Error::msg(format!(
            "a {} timer at {} fired but the operator does not implement on_timer",
            timer.kind, timer.time
        )))
    }
}

/// `export!` makes the crate a Weir module serving the operator that `$make`
/// evaluates to: it defines the exports `weir_v1_reserve`, `weir_v1_init`
/// and `weir_v1_process` (ABI §3). `$make` runs once per instance, before
/// `init`:
///
/// ```ignore
/// weir::export!(Upper);                 // a unit struct
/// weir::export!(Count::default());      // any expression
/// ```
///
/// Use it once, in a crate built as a `cdylib` for `wasm32-unknown-unknown`
/// (or `wasm32-wasi`). In a native build it only checks that `$make` is an
/// operator.
#[macro_export]
macro_rules! export {
    ($make:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            #[no_mangle]
            pub extern "C" fn weir_v1_reserve(size: u32) -> u32 {
                $crate::__private::reserve(size)
            }

            #[no_mangle]
            pub extern "C" fn weir_v1_init(ptr: u32, len: u32) -> u32 {
                $crate::__private::init(ptr, len, || $make)
            }

            #[no_mangle]
            pub extern "C" fn weir_v1_process(ptr: u32, len: u32) -> u32 {
                $crate::__private::process(ptr, len, || $make)
            }
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            #[allow(dead_code)]
            fn __weir_exported_operator() -> impl $crate::Operator {
                $make
            }
        };
    };
}

/// Not public API: what [`export!`] expands to.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::runtime::{allocations, init, process, reserve};
}
