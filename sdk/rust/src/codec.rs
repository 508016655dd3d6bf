//! Codecs: how state values, map keys and window accumulators become bytes.
//!
//! The encodings are those of the Go SDK, byte for byte, so that state
//! written by an operator built with one SDK is read by a build with the
//! other: i64 is 8 bytes big-endian with the sign bit flipped, u64 8 bytes
//! big-endian, f64 its IEEE 754 bits big-endian with the sign bit flipped for
//! positive numbers and every bit flipped for negative ones, bool one byte 0
//! or 1, strings and byte vectors their bytes. The fixed-size encodings and
//! the string encoding preserve order: the byte order of two encodings is
//! the order of the values, so they are the ones to use for map keys whose
//! iteration order matters.

use crate::error::{Code, Error};

/// `Encode` appends the encoding of a value to a buffer.
pub trait Encode {
    /// `encode` appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// `Decode` reads a value back from its encoding.
pub trait Decode: Sized {
    /// `decode` decodes `bytes`, which are valid during the call only.
    fn decode(bytes: &[u8]) -> Result<Self, Error>;
}

/// `Codec` is a type that state can store: [`Encode`] and [`Decode`].
/// Implement those two for a type of your own to keep it in state.
pub trait Codec: Encode + Decode {}

impl<T: Encode + Decode> Codec for T {}

const SIGN_BIT: u64 = 1 << 63;

fn size_error(codec: &str, got: usize, want: usize) -> Error {
    Error::sdk(
        Code::ERROR,
        "decode",
        format!("{} codec: got {} bytes, want {}", codec, got, want),
    )
}

#[inline(always)]
fn be8(codec: &str, b: &[u8]) -> Result<u64, Error> {
    if b.len() != 8 {
        return Err(size_error(codec, b.len(), 8));
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

impl Encode for i64 {
    #[inline(always)]
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&((*self as u64) ^ SIGN_BIT).to_be_bytes());
    }
}

impl Decode for i64 {
    #[inline(always)]
    fn decode(b: &[u8]) -> Result<Self, Error> {
        Ok((be8("i64", b)? ^ SIGN_BIT) as i64)
    }
}

impl Encode for u64 {
    #[inline(always)]
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Decode for u64 {
    #[inline(always)]
    fn decode(b: &[u8]) -> Result<Self, Error> {
        be8("u64", b)
    }
}

impl Encode for f64 {
    #[inline(always)]
    fn encode(&self, out: &mut Vec<u8>) {
        let b = self.to_bits();
        let b = if b & SIGN_BIT != 0 { !b } else { b | SIGN_BIT };
        out.extend_from_slice(&b.to_be_bytes());
    }
}

impl Decode for f64 {
    #[inline(always)]
    fn decode(b: &[u8]) -> Result<Self, Error> {
        let b = be8("f64", b)?;
        let b = if b & SIGN_BIT != 0 { b & !SIGN_BIT } else { !b };
        Ok(f64::from_bits(b))
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}

impl Decode for bool {
    fn decode(b: &[u8]) -> Result<Self, Error> {
        match b {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(Error::sdk(
                Code::ERROR,
                "decode",
                format!("bool codec: got {:02x?}, want [00] or [01]", b),
            )),
        }
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl Decode for String {
    /// `decode` fails on bytes that are not UTF-8; keep such values as
    /// `Vec<u8>`.
    fn decode(b: &[u8]) -> Result<Self, Error> {
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(Error::sdk(
                Code::ERROR,
                "decode",
                format!("String codec: {}", e),
            )),
        }
    }
}

impl Encode for [u8] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl Encode for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl Decode for Vec<u8> {
    fn decode(b: &[u8]) -> Result<Self, Error> {
        Ok(b.to_vec())
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> Decode for [u8; N] {
    fn decode(b: &[u8]) -> Result<Self, Error> {
        b.try_into()
            .map_err(|_| size_error("byte array", b.len(), N))
    }
}
