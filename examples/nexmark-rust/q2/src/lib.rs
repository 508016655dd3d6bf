//! `q2` is Nexmark query 2, selection (docs/nexmark.md §8), in Rust: the
//! auction and price of every bid whose auction id is a multiple of 123,
//! keyed by the auction (8 bytes, big-endian) and encoded as the Q2 result
//! (kind 0x20, then auction and price as little-endian i64). The Go operator
//! (examples/nexmark/q2) does the same.

use weir::{Context, Error, Operator, Record};

#[path = "../../bid.rs"]
mod bid;

/// `AUCTION_SKIP` selects the auctions whose id is a multiple of it.
const AUCTION_SKIP: i64 = 123;

/// `KIND_Q2` is the first byte of a Q2 result.
const KIND_Q2: u8 = 0x20;

/// `Q2` selects the bids of some auctions.
pub struct Q2;

impl Operator for Q2 {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let v = rec.value;
        if !bid::is_bid(v) {
            return Ok(());
        }
        bid::check(v)?;
        let auction = bid::auction(v);
        if auction % AUCTION_SKIP != 0 {
            return Ok(());
        }
        let mut out = [0u8; 17];
        out[0] = KIND_Q2;
        out[1..9].copy_from_slice(&auction.to_le_bytes());
        out[9..17].copy_from_slice(&bid::price(v).to_le_bytes());
        ctx.emit(&auction.to_be_bytes(), &out);
        Ok(())
    }
}

weir::export!(Q2);
