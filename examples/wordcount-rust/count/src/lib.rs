//! `count` is the second operator of the word-count example: a keyed count
//! of records per key.
//!
//! By default it emits each key's final count when the input ends (the
//! watermark reaches the end of time, which happens when every bounded source
//! is exhausted): an event-time timer at the largest timestamp is set the
//! first time a key is seen. With the configuration `{"mode": "running"}` it
//! emits the updated count with every record instead, which suits unbounded
//! input. It keeps its count where the Go build of the same operator
//! (examples/wordcount/count) does, in the same encoding, so either build can
//! take over the other's state.

use weir::json::Json;
use weir::text::format_i64;
use weir::{Context, Error, Operator, Record, Timer, ValueState};

/// `COUNT` is the number of times the current key (a word) was seen.
const COUNT: ValueState<i64> = ValueState::new("count");

/// `END_OF_TIME` is the time of the end-of-input timer: the watermark
/// reaches it only when every source has ended.
const END_OF_TIME: i64 = i64::MAX;

/// `Count` counts records per key.
#[derive(Default)]
pub struct Count {
    /// `running` is set by the configuration: emit every updated count.
    running: bool,
}

impl Operator for Count {
    fn init(&mut self, config: &[u8]) -> Result<(), Error> {
        self.running = false;
        if config.is_empty() {
            return Ok(());
        }
        let c = Json::parse(config).map_err(|e| e.context("count: config"))?;
        if c.as_object().is_none() {
            return Err(Error::msg("count: config: want a JSON object"));
        }
        match c.get("mode") {
            None => Ok(()),
            Some(Json::String(m)) if m == "final" || m.is_empty() => Ok(()),
            Some(Json::String(m)) if m == "running" => {
                self.running = true;
                Ok(())
            }
            Some(Json::String(m)) => Err(Error::msg(format!(
                "count: config: mode {:?}: want \"final\" or \"running\"",
                m
            ))),
            Some(_) => Err(Error::msg("count: config: mode must be a string")),
        }
    }

    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let seen = COUNT.get(ctx)?;
        let n = seen.unwrap_or(0) + 1;
        COUNT.set(ctx, &n)?;
        if self.running {
            let mut buf = [0u8; 20]; // emit copies: no allocation per record
            ctx.emit(rec.key, format_i64(n, &mut buf));
            return Ok(());
        }
        if seen.is_none() {
            return ctx.set_event_timer(END_OF_TIME);
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<(), Error> {
        let n = COUNT.get(ctx)?.unwrap_or(0);
        let mut buf = [0u8; 20];
        ctx.emit(t.key, format_i64(n, &mut buf));
        Ok(())
    }
}

weir::export!(Count::default());
