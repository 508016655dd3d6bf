//! `tumblecount` is the windowed reference operator of the behaviour vectors
//! (abi/testdata/operators/README.md): it counts the records of each key in
//! event-time tumbling windows of 10 s (`[k*10000, (k+1)*10000)` ms), without
//! allowed lateness. When a window fires (the watermark reaches its end - 1)
//! it emits the key with the count in decimal as value, headers
//! `window-start` and `window-end` (decimal ms), the timestamp end - 1 and
//! tracking id 0. Late records go to port 1 unchanged. A record without a
//! timestamp fails the batch with the SDK's code 100.

use std::time::Duration;
use weir::text::format_i64;
use weir::{
    append_header, Assigner, Context, Error, Operator, Output, Record, Timer, Window,
    WindowFunction, WindowState,
};

/// `LATE_PORT` is the side output of late records.
const LATE_PORT: u8 = 1;

/// `Count` counts the records of a window.
struct Count;

impl WindowFunction for Count {
    type Acc = i64;

    fn create(&self) -> i64 {
        0
    }

    fn add(&self, n: i64, _: &Record<'_>) -> Result<i64, Error> {
        Ok(n + 1)
    }

    fn emit(&self, ctx: &mut Context<'_>, w: Window, n: i64) -> Result<(), Error> {
        let mut buf = [0u8; 20];
        let mut headers = Vec::with_capacity(64);
        append_header(&mut headers, b"window-start", format_i64(w.start, &mut buf));
        append_header(&mut headers, b"window-end", format_i64(w.end, &mut buf));
        let key = ctx.key();
        ctx.emit_output(
            0,
            &Output::new(key, format_i64(n, &mut buf)).with_headers(&headers),
        );
        Ok(())
    }
}

const COUNTS: WindowState<Count> =
    WindowState::new("counts", Assigner::tumbling(Duration::from_secs(10)), Count)
        .late_records_to(LATE_PORT);

/// `TumbleCount` is the tumblecount operator.
pub struct TumbleCount;

impl Operator for TumbleCount {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        COUNTS.add(ctx, rec)
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<(), Error> {
        COUNTS.on_timer(ctx, t).map(|_| ())
    }
}

weir::export!(TumbleCount);
