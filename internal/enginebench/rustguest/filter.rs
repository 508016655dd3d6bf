//! `filter` is the Rust build of the stateless operator of the engine
//! benchmarks (internal/enginebench/filter): it keeps the records whose key
//! ends in an even digit and emits them with the first byte of the value
//! upper-cased (a map and a filter in one), with the record's key, timestamp
//! and tracking id and no headers.

use weir::{Context, Error, Operator, Record};

/// `STACK_VALUE_BYTES` is the largest value copied on the stack (the Go build
/// uses a 128-byte buffer too); a longer one is copied to the heap.
const STACK_VALUE_BYTES: usize = 128;

struct Filter;

impl Operator for Filter {
    #[inline]
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        // As the Go build: (last byte - '0') % 2 in byte arithmetic.
        match rec.key.last() {
            Some(&c) if c.wrapping_sub(b'0') % 2 == 0 => {}
            _ => return Ok(()),
        }
        let v = rec.value;
        match v.first() {
            Some(c) if c.is_ascii_lowercase() && v.len() <= STACK_VALUE_BYTES => {
                let mut buf = [0u8; STACK_VALUE_BYTES];
                buf[..v.len()].copy_from_slice(v);
                buf[0] -= b'a' - b'A';
                ctx.emit(rec.key, &buf[..v.len()]);
            }
            Some(c) if c.is_ascii_lowercase() => {
                let mut heap = v.to_vec();
                heap[0] -= b'a' - b'A';
                ctx.emit(rec.key, &heap);
            }
            _ => ctx.emit(rec.key, v),
        }
        Ok(())
    }
}

weir::export!(Filter);
