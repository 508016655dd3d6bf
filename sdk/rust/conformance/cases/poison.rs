//! `poison` is the Rust build of the conformance suite's trap case
//! (internal/conformancetest): it emits every record unchanged, and panics
//! on a record whose key is `poison`. A panic aborts, which traps the module:
//! the host must report the entry from the cursor the SDK keeps (ABI §4.4),
//! with the panic message the SDK's panic hook writes to stderr, and run the
//! next batch on a fresh instance.

use weir::{Context, Error, Operator, Output, Record};

struct Poison;

impl Operator for Poison {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        if rec.key == b"poison" {
            panic!("poisoned record: the guest panics on purpose");
        }
        ctx.emit_output(0, &Output::from(rec));
        Ok(())
    }
}

weir::export!(Poison);
