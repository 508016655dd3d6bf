//! `allocs` is a test guest of the Rust SDK's host tests, the Rust twin of
//! the Go SDK's allocguest (internal/conformancetest/testdata/allocguest):
//! for every record it runs the SDK's per-record paths (value, map and
//! reducing state reads and writes, emit, emit_output with headers, a
//! timer), and for a record whose value is `allocations` it emits, on port
//! 1, the number of heap allocations the module has made so far, so that the
//! test can check that the per-record paths make none once the SDK's buffers
//! have grown.

use weir::{Context, Error, MapState, Operator, Output, Record, ReducingState, Timer, ValueState};

const COUNT: ValueState<i64> = ValueState::new("count");
const SUMS: MapState<u64, i64> = MapState::new("sums");
const TOTAL: ReducingState<f64> = ReducingState::new("total", |a, b| a + b);

struct Allocs;

impl Operator for Allocs {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let mut buf = [0u8; 20];
        if rec.value == b"allocations" {
            // The SDK counts allocations in the global allocator it declares
            // in a Wasm build; a native build of this guest has none to count.
            #[cfg(target_arch = "wasm32")]
            let n = weir::__private::allocations();
            #[cfg(not(target_arch = "wasm32"))]
            let n = 0;
            ctx.emit_to(1, b"", weir::text::format_u64(n, &mut buf));
            return Ok(());
        }
        let n = COUNT.get(ctx)?.unwrap_or(0) + 1;
        COUNT.set(ctx, &n)?;
        let len = rec.value.len() as u64;
        let s = SUMS.get(ctx, &len)?.unwrap_or(0);
        SUMS.put(ctx, &len, &(s + n))?;
        TOTAL.add(ctx, 0.5)?;
        ctx.emit(rec.key, weir::text::format_i64(n, &mut buf));
        ctx.emit_output(
            2,
            &Output::new(rec.key, rec.value).with_headers(rec.headers.as_bytes()),
        );
        ctx.set_event_timer(rec.timestamp + 1000)
    }

    fn on_timer(&mut self, _: &mut Context<'_>, _: &Timer<'_>) -> Result<(), Error> {
        Ok(())
    }
}

weir::export!(Allocs);
