//! `scan` is a test guest of the conformance harness: it exercises
//! state_scan chunking through the real host (ABI §5.1), as the Go SDK's
//! test guest does. The record's value is a command for its key:
//!
//! - `fill`: puts 300 pairs into the map state `big` (u64 keys 0..300, values
//!   of 1000 bytes, but 300 000 bytes at key 150: more than the SDK's first
//!   scan buffer of 64 KiB, so the buffer must grow).
//! - `range`: walks the map and emits `<pairs> pairs, <bytes> bytes`, counting
//!   while the keys come in order (`300 pairs, 599000 bytes` after `fill`).
//!
//! Any other record is emitted as it is. `range` also logs
//! `range read <pairs> pairs` at level info.

use weir::{Context, Error, MapState, Operator, Output, Record};

const BIG: MapState<u64, Vec<u8>> = MapState::new("big");

struct Scan;

impl Operator for Scan {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        match rec.value {
            b"fill" => {
                for i in 0..300u64 {
                    let v = if i == 150 {
                        vec![b'L'; 300_000]
                    } else {
                        vec![i as u8; 1000]
                    };
                    BIG.put(ctx, &i, &v)?;
                }
            }
            b"range" => {
                let (mut n, mut total, mut next) = (0u64, 0usize, 0u64);
                BIG.scan(ctx, None::<&u64>, |_, k, v| {
                    if k != next {
                        return Ok(false);
                    }
                    n += 1;
                    total += v.len();
                    next += 1;
                    Ok(true)
                })?;
                ctx.log_fmt(weir::Level::Info, format_args!("range read {} pairs", n));
                let msg = format!("{} pairs, {} bytes", n, total);
                ctx.emit(b"", msg.as_bytes());
            }
            _ => ctx.emit_output(0, &Output::from(rec)),
        }
        Ok(())
    }
}

weir::export!(Scan);
