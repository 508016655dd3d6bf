//! `upper` is the stateless reference operator of the behaviour vectors
//! (abi/testdata/operators/README.md): it emits each record with its value
//! in ASCII upper case (bytes a-z become A-Z, every other byte is kept), with
//! the same key and headers, and the timestamp and tracking id inherited from
//! the input record.

use weir::{Context, Error, Operator, Output, Record};

/// `STACK_VALUE_BYTES` is the largest value converted in a buffer on the
/// stack; emitting copies it, so there is no allocation per record.
const STACK_VALUE_BYTES: usize = 256;

/// `Upper` is the upper operator.
pub struct Upper;

impl Operator for Upper {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let mut stack = [0u8; STACK_VALUE_BYTES];
        let mut heap = Vec::new();
        let v = if rec.value.len() <= STACK_VALUE_BYTES {
            &mut stack[..rec.value.len()]
        } else {
            heap.resize(rec.value.len(), 0);
            &mut heap[..]
        };
        v.copy_from_slice(rec.value);
        v.make_ascii_uppercase();
        ctx.emit_output(
            0,
            &Output::new(rec.key, v).with_headers(rec.headers.as_bytes()),
        );
        Ok(())
    }
}

weir::export!(Upper);
