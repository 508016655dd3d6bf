//! `timers` is the timer reference operator of the behaviour vectors
//! (abi/testdata/operators/README.md). Each record's value is a command for
//! the record's key:
//!
//! ```text
//! event:<ms>              set an event-time timer at ms
//! delete-event:<ms>       delete the event-time timer at ms
//! processing:<ms>         set a processing-time timer at ms
//! delete-processing:<ms>  delete the processing-time timer at ms
//! ```
//!
//! It emits nothing for a record. When a timer fires it emits the timer's key
//! with the value `fired event <ms> at watermark <wm>` or `fired processing
//! <ms> at time <pt>`, where wm and pt are the watermark and processing time
//! of the batch header; the record inherits the timer's time as timestamp and
//! tracking id 0. An unknown command fails the batch with status code 102.

use std::io::Write;
use weir::{Context, Error, Operator, Record, Timer, TimerKind};

/// `CODE_BAD_COMMAND` is the status code of a record that is not a command.
const CODE_BAD_COMMAND: u32 = 102;

/// `Timers` is the timers operator.
pub struct Timers;

fn bad(rec: &Record<'_>, why: &str) -> Error {
    Error::new(
        CODE_BAD_COMMAND,
        format!(
            "timers: command {:?}: {}",
            String::from_utf8_lossy(rec.value),
            why
        ),
    )
}

impl Operator for Timers {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        // As Go's strings.Cut: the command is everything before the first
        // colon, the time everything after it.
        let (cmd, arg) = match rec.value.iter().position(|&c| c == b':') {
            Some(i) => (&rec.value[..i], &rec.value[i + 1..]),
            None => (rec.value, &[][..]),
        };
        let ms = weir::text::parse_i64(arg).ok_or_else(|| bad(rec, "bad time"))?;
        match cmd {
            b"event" => ctx.set_event_timer(ms),
            b"delete-event" => ctx.delete_event_timer(ms),
            b"processing" => ctx.set_processing_timer(ms),
            b"delete-processing" => ctx.delete_processing_timer(ms),
            _ => Err(bad(rec, "unknown command")),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<(), Error> {
        let mut buf = [0u8; 96];
        let mut w = &mut buf[..];
        let r = match t.kind {
            TimerKind::EventTime => {
                write!(w, "fired event {} at watermark {}", t.time, ctx.watermark())
            }
            TimerKind::ProcessingTime => write!(
                w,
                "fired processing {} at time {}",
                t.time,
                ctx.processing_time()
            ),
        };
        r.map_err(|e| Error::msg(format!("timers: format: {}", e)))?;
        let n = 96 - w.len();
        ctx.emit(t.key, &buf[..n]);
        Ok(())
    }
}

weir::export!(Timers);
