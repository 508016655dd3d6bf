//! `q1` is Nexmark query 1, currency conversion (docs/nexmark.md §8), in Rust:
//! every bid with its price converted from dollars to euros, price * 908 /
//! 1000, truncating; persons and auctions are dropped, and a malformed bid
//! fails the batch. The Go operator (examples/nexmark/q1) does the same.

use weir::{Context, Error, Operator, Record};

#[path = "../../bid.rs"]
mod bid;

/// `MAX_STACK_BID` is the largest bid converted in a buffer on the stack
/// (emit copies); a longer one is converted in a heap buffer.
const MAX_STACK_BID: usize = 256;

/// `Q1` converts bid prices to euros.
pub struct Q1;

fn dollars_to_euros(cents: i64) -> i64 {
    cents.wrapping_mul(908) / 1000
}

impl Operator for Q1 {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let v = rec.value;
        if !bid::is_bid(v) {
            return Ok(());
        }
        bid::check(v)?;
        let euros = dollars_to_euros(bid::price(v)).to_le_bytes();
        let p = bid::PRICE_OFFSET;
        if v.len() <= MAX_STACK_BID {
            let mut buf = [0u8; MAX_STACK_BID];
            let out = &mut buf[..v.len()];
            out.copy_from_slice(v);
            out[p..p + 8].copy_from_slice(&euros);
            ctx.emit(rec.key, out);
        } else {
            let mut out = v.to_vec();
            out[p..p + 8].copy_from_slice(&euros);
            ctx.emit(rec.key, &out);
        }
        Ok(())
    }
}

weir::export!(Q1);
