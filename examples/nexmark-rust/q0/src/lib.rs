//! `q0` is Nexmark query 0, pass-through (docs/nexmark.md §8), in Rust: every
//! bid as it is; persons and auctions are dropped. The Go operator
//! (examples/nexmark/q0) does the same.

use weir::{Context, Error, Operator, Record};

#[path = "../../bid.rs"]
mod bid;

/// `Q0` passes bids through.
pub struct Q0;

impl Operator for Q0 {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        if bid::is_bid(rec.value) {
            ctx.emit(rec.key, rec.value);
        }
        Ok(())
    }
}

weir::export!(Q0);
