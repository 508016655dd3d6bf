//! `window` is the operator of the window-count example: the number of
//! events per key (a user) in one-minute tumbling event-time windows.
//!
//! For each key and minute it emits one record when the watermark passes the
//! end of the minute: key = the user, value = `<window start, RFC 3339>
//! <count>`, timestamp = the last millisecond of the window. It keeps its
//! windows where the Go build of the same operator (examples/windowcount)
//! does, in the same layout.

use std::time::Duration;
use weir::{
    Assigner, Context, Error, Operator, Record, Timer, Window, WindowFunction, WindowState,
};

/// `PerMinute` counts the events of a window.
struct PerMinute;

impl WindowFunction for PerMinute {
    type Acc = i64;

    fn create(&self) -> i64 {
        0
    }

    fn add(&self, n: i64, _: &Record<'_>) -> Result<i64, Error> {
        Ok(n + 1)
    }

    fn emit(&self, ctx: &mut Context<'_>, w: Window, n: i64) -> Result<(), Error> {
        let mut buf = [0u8; 48]; // emit copies: no allocation per window
        let mut len = rfc3339(w.start, &mut buf);
        buf[len] = b' ';
        len += 1;
        let mut digits = [0u8; 20];
        let d = weir::text::format_i64(n, &mut digits);
        buf[len..len + d.len()].copy_from_slice(d);
        len += d.len();
        let key = ctx.key();
        ctx.emit(key, &buf[..len]);
        Ok(())
    }
}

const PER_MINUTE: WindowState<PerMinute> = WindowState::new(
    "per-minute",
    Assigner::tumbling(Duration::from_secs(60)),
    PerMinute,
);

/// `rfc3339` writes the UTC time of `ms` (ms since the Unix epoch, whole
/// seconds shown) as `YYYY-MM-DDTHH:MM:SSZ` into `buf` and returns its length:
/// what Go's time.RFC3339 layout gives for years 0 to 9999.
fn rfc3339(ms: i64, buf: &mut [u8; 48]) -> usize {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (the proleptic Gregorian
    // calendar), by eras of 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let fields: [(i64, usize, u8); 6] = [
        (year, 4, b'-'),
        (month, 2, b'-'),
        (day, 2, b'T'),
        (rem / 3600, 2, b':'),
        (rem / 60 % 60, 2, b':'),
        (rem % 60, 2, b'Z'),
    ];
    let mut n = 0;
    for (v, width, sep) in fields {
        let mut v = v.rem_euclid(10_i64.pow(width as u32));
        for i in (0..width).rev() {
            buf[n + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        buf[n + width] = sep;
        n += width + 1;
    }
    n
}

/// `CountPerMinute` counts events per key and minute.
pub struct CountPerMinute;

impl Operator for CountPerMinute {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        PER_MINUTE.add(ctx, rec)
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<(), Error> {
        PER_MINUTE.on_timer(ctx, t).map(|_| ())
    }
}

weir::export!(CountPerMinute);

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (60_000, "1970-01-01T00:01:00Z"),
            (999, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20Z"),
            (253_402_300_799_000, "9999-12-31T23:59:59Z"),
        ] {
            let mut buf = [0u8; 48];
            let n = super::rfc3339(ms, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want, "{} ms", ms);
        }
    }
}
