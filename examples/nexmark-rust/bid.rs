#![allow(dead_code)] // each operator uses part of this file
//! The Nexmark bid as the operators of this directory read it: the event
//! encoding of docs/nexmark.md §5 (kind byte 0x02, then auction, bidder,
//! price and dateTime as little-endian i64, then the u16-prefixed extra
//! field). Each operator crate includes this file with `#[path]`.

use weir::Error;

/// `KIND_BID` is the first byte of an encoded bid.
pub const KIND_BID: u8 = 0x02;

/// `FIXED_BYTES` is the kind byte and the four i64 fields.
pub const FIXED_BYTES: usize = 1 + 4 * 8;

/// `PRICE_OFFSET` is where the price starts in an encoded bid.
pub const PRICE_OFFSET: usize = 17;

/// `is_bid` reports whether `v` is an event of kind bid (persons and
/// auctions are dropped by every query of this directory).
pub fn is_bid(v: &[u8]) -> bool {
    !v.is_empty() && v[0] == KIND_BID
}

/// `check` returns an error unless `v` is a whole bid: the fixed fields, the
/// extra field's length and exactly that many bytes.
pub fn check(v: &[u8]) -> Result<(), Error> {
    if v.len() < FIXED_BYTES + 2 || v[0] != KIND_BID {
        return Err(Error::msg("nexmark events: malformed bid: shorter than its fixed fields"));
    }
    let n = u16::from_le_bytes([v[FIXED_BYTES], v[FIXED_BYTES + 1]]) as usize;
    if v.len() != FIXED_BYTES + 2 + n {
        return Err(Error::msg("nexmark events: malformed bid: its length disagrees with its extra field"));
    }
    Ok(())
}

/// `i64_at` reads the little-endian i64 at `off` of a checked bid.
pub fn i64_at(v: &[u8], off: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[off..off + 8]);
    i64::from_le_bytes(b)
}

/// `auction` is the bid's auction id.
pub fn auction(v: &[u8]) -> i64 {
    i64_at(v, 1)
}

/// `price` is the bid's price in cents.
pub fn price(v: &[u8]) -> i64 {
    i64_at(v, PRICE_OFFSET)
}
