//! `oom` is the Rust build of the conformance suite's oversized-allocation
//! case (internal/conformancetest): it emits every record unchanged, and on a
//! record whose key is `poison` grows a vector towards 1 GiB, which no memory
//! limit of the suite allows. The growth stops at the module's memory limit:
//! memory.grow fails, the allocation fails, the SDK's allocator writes
//! `fatal error: out of memory: ...` to stderr, and the module traps.

use weir::{Context, Error, Operator, Output, Record};

/// `HUGE_BYTES` is more memory than the suite lets a guest have.
const HUGE_BYTES: usize = 1 << 30;

struct Oom;

impl Operator for Oom {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        if rec.key == b"poison" {
            let chunk = [1u8; 4096];
            let mut v: Vec<u8> = Vec::new();
            while v.len() < HUGE_BYTES {
                v.extend_from_slice(&chunk);
            }
            // Reading the vector keeps the growth from being optimised away.
            // SAFETY: the index is within the vector.
            let last = unsafe { std::ptr::read_volatile(&v[HUGE_BYTES - 1]) };
            ctx.emit(rec.key, &[last]);
            return Ok(());
        }
        ctx.emit_output(0, &Output::from(rec));
        Ok(())
    }
}

weir::export!(Oom);
