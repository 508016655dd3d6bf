//! Keyed state: value, map, list, reducing and aggregating state.
//!
//! A state handle names its state and the types it stores, and makes no host
//! call until it is used. Declare it once, as a constant or a field of the
//! operator:
//!
//! ```
//! const COUNT: weir::ValueState<i64> = weir::ValueState::new("count");
//! ```
//!
//! Every method takes the [`Context`] of the entry being processed and reads
//! or writes the state of that entry's key only (ABI §5, §6): an operator
//! cannot reach the state of another key. Each handle owns its state name (1
//! to 255 bytes; a constant with a bad name does not compile): two handles of
//! one operator must not share a name.
//!
//! The stored bytes are the Go SDK's for the same state (see [`crate::codec`]
//! and the layout of [`ListState`] and [`crate::WindowState`]), so a job can
//! move from an operator built with one SDK to one built with the other and
//! keep its state.

use crate::codec::{Codec, Decode, Encode};
use crate::context::{Context, ScanBuf};
use crate::error::{Code, Error};
use crate::sys;
use std::borrow::Borrow;
use std::marker::PhantomData;

/// `SCAN_BUF_BYTES` is the first size of a state_scan output buffer.
const SCAN_BUF_BYTES: usize = 64 << 10;
/// `MAX_SCAN_BUF_BYTES` is the size that holds any one pair within the limits
/// of ABI §9; state_scan buffers double up to it (ABI §5.1).
const MAX_SCAN_BUF_BYTES: usize = 8 + crate::abi::MAX_KEY_BYTES + crate::abi::MAX_VALUE_BYTES;
/// `MAX_RETAINED_SCAN_BYTES` bounds the scan buffer an instance keeps after a
/// scan that needed more.
const MAX_RETAINED_SCAN_BYTES: usize = 1 << 20;

/// `check_name` panics (at compile time, for a constant) on a state name
/// that is not 1 to 255 bytes long.
pub(crate) const fn check_name(name: &str) {
    assert!(
        !name.is_empty() && name.len() <= crate::abi::MAX_STATE_NAME_BYTES,
        "weir: a state name is 1 to 255 bytes long"
    );
}

fn decode_in<T: Decode>(kind: &str, name: &str, b: &[u8]) -> Result<T, Error> {
    T::decode(b).map_err(|e| e.context(format_args!("{} {:?}", kind, name)))
}

/// `ValueState` is one value of type `T` per key: the user key of length 0
/// of its state name (ABI §5.2). A `get` is one state_get host call and a
/// `set` one state_put, as long as the value fits the instance's buffer (4
/// KiB at first; it grows to the largest value read, up to 1 MiB).
pub struct ValueState<T> {
    name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> ValueState<T> {
    /// `new` declares a value state named `name`.
    pub const fn new(name: &'static str) -> Self {
        check_name(name);
        ValueState {
            name,
            _t: PhantomData,
        }
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: Codec> ValueState<T> {
    /// `get` returns the current key's value, or None if it has none.
    #[inline]
    pub fn get(&self, ctx: &mut Context<'_>) -> Result<Option<T>, Error> {
        match ctx.core.get(ctx.entry, self.name, false)? {
            Some(b) => decode_in("value state", self.name, b).map(Some),
            None => Ok(None),
        }
    }

    /// `set` stores `v` as the current key's value.
    #[inline]
    pub fn set<Q>(&self, ctx: &mut Context<'_>, v: &Q) -> Result<(), Error>
    where
        T: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        let core = &mut *ctx.core;
        core.value.clear();
        v.encode(&mut core.value);
        core.put_value(ctx.entry, self.name, false)
    }

    /// `clear` removes the current key's value.
    pub fn clear(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        ctx.core.delete(ctx.entry, self.name, false)
    }
}

/// `MapState` is a sorted map from `K` to `V` per key: each entry is one user
/// key of its state name. Iteration visits entries in the byte order of the
/// encoded keys, so use an order-preserving key encoding (i64, u64, f64,
/// String) when the order matters.
pub struct MapState<K, V> {
    name: &'static str,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> MapState<K, V> {
    /// `new` declares a map state named `name`.
    pub const fn new(name: &'static str) -> Self {
        check_name(name);
        MapState {
            name,
            _t: PhantomData,
        }
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<K: Codec, V: Codec> MapState<K, V> {
    fn set_user_key<Q: Encode + ?Sized>(ctx: &mut Context<'_>, key: &Q) {
        let uk = &mut ctx.core.user_key;
        uk.clear();
        key.encode(uk);
    }

    /// `get` returns the value at `key` for the current key, or None.
    pub fn get<Q>(&self, ctx: &mut Context<'_>, key: &Q) -> Result<Option<V>, Error>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Self::set_user_key(ctx, key);
        match ctx.core.get(ctx.entry, self.name, true)? {
            Some(b) => decode_in("map state", self.name, b).map(Some),
            None => Ok(None),
        }
    }

    /// `contains` reports whether the current key has a value at `key`.
    pub fn contains<Q>(&self, ctx: &mut Context<'_>, key: &Q) -> Result<bool, Error>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Self::set_user_key(ctx, key);
        Ok(ctx.core.get(ctx.entry, self.name, true)?.is_some())
    }

    /// `put` stores `value` at `key` for the current key.
    pub fn put<Q, R>(&self, ctx: &mut Context<'_>, key: &Q, value: &R) -> Result<(), Error>
    where
        K: Borrow<Q>,
        V: Borrow<R>,
        Q: Encode + ?Sized,
        R: Encode + ?Sized,
    {
        Self::set_user_key(ctx, key);
        let core = &mut *ctx.core;
        core.value.clear();
        value.encode(&mut core.value);
        core.put_value(ctx.entry, self.name, true)
    }

    /// `remove` removes `key` for the current key; removing an absent key is
    /// not an error.
    pub fn remove<Q>(&self, ctx: &mut Context<'_>, key: &Q) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        Self::set_user_key(ctx, key);
        ctx.core.delete(ctx.entry, self.name, true)
    }

    /// `for_each` calls `f` with each entry of the current key, in ascending
    /// order of the encoded keys, until `f` returns an error.
    ///
    /// `f` gets the [`Context`] back, so it may read and write state,
    /// including this map: entries already visited are not visited again, and
    /// entries put ahead of the current position may or may not be.
    pub fn for_each<F>(&self, ctx: &mut Context<'_>, mut f: F) -> Result<(), Error>
    where
        F: FnMut(&mut Context<'_>, K, V) -> Result<(), Error>,
    {
        self.scan(ctx, None, |ctx, k, v| f(ctx, k, v).map(|()| true))
    }

    /// `scan` is [`MapState::for_each`] from the first key at or after
    /// `from` (None: the first key), until `f` returns `Ok(false)` or an error.
    pub fn scan<Q, F>(&self, ctx: &mut Context<'_>, from: Option<&Q>, mut f: F) -> Result<(), Error>
    where
        K: Borrow<Q>,
        Q: Encode + ?Sized,
        F: FnMut(&mut Context<'_>, K, V) -> Result<bool, Error>,
    {
        let mut start = Vec::new();
        if let Some(k) = from {
            k.encode(&mut start);
        }
        let name = self.name;
        scan_raw(ctx, name, &start, |ctx, uk, v| {
            let k = decode_in("map state key of", name, uk)?;
            let v = decode_in("map state", name, v)?;
            f(ctx, k, v)
        })
    }

    /// `clear` removes every entry of the current key.
    pub fn clear(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        ctx.core.clear(ctx.entry, self.name)
    }
}

/// `scan_raw` calls `f` with each (user key, value) of state `name` for the
/// context's key with user key >= `start`, in ascending byte order, until `f`
/// returns `Ok(false)` or an error. It reads ahead in chunks with
/// state_scan, doubling the buffer when a pair does not fit and continuing
/// after the last key of each chunk (ABI §5.1). `f` runs outside any host
/// call, with the context, so it may use state; the slices are valid during
/// the call only.
pub(crate) fn scan_raw<F>(
    ctx: &mut Context<'_>,
    name: &'static str,
    start: &[u8],
    f: F,
) -> Result<(), Error>
where
    F: FnMut(&mut Context<'_>, &[u8], &[u8]) -> Result<bool, Error>,
{
    let mut sb = ctx.core.scans.pop().unwrap_or_else(|| ScanBuf {
        out: vec![0; SCAN_BUF_BYTES],
        start: Vec::new(),
    });
    sb.start.clear();
    sb.start.extend_from_slice(start);
    let r = scan_chunks(ctx, name, &mut sb, f);
    if sb.out.len() > MAX_RETAINED_SCAN_BYTES {
        sb.out = vec![0; SCAN_BUF_BYTES];
    }
    ctx.core.scans.push(sb);
    r
}

fn scan_chunks<F>(
    ctx: &mut Context<'_>,
    name: &'static str,
    sb: &mut ScanBuf,
    mut f: F,
) -> Result<(), Error>
where
    F: FnMut(&mut Context<'_>, &[u8], &[u8]) -> Result<bool, Error>,
{
    loop {
        let r = sys::state_scan(ctx.entry, name.as_bytes(), &sb.start, &mut sb.out);
        if r < 0 {
            let code = Code::from_raw(r.unsigned_abs().min(u32::MAX as u64) as u32);
            if code != Code::BUFFER_TOO_SMALL {
                return Err(ctx.core.host_failed(code, "state_scan", name.as_bytes()));
            }
            if sb.out.len() >= MAX_SCAN_BUF_BYTES {
                return Err(Error::sdk(
                    Code::LIMIT_EXCEEDED,
                    format!("state_scan {:?}", name),
                    format!(
                        "a pair does not fit in {} bytes, the most a pair within the limits takes",
                        sb.out.len()
                    ),
                ));
            }
            let n = (2 * sb.out.len()).min(MAX_SCAN_BUF_BYTES);
            sb.out = vec![0; n];
            continue;
        }
        let written = (r as u64 & 0xffff_ffff) as usize;
        let more = (r as u64) >> 32 != 0;
        if written > sb.out.len() || (more && written == 0) {
            return Err(ctx
                .core
                .host_failed(Code::INTERNAL, "state_scan", name.as_bytes()));
        }
        let mut chunk = &sb.out[..written];
        let mut last: &[u8] = &[];
        while !chunk.is_empty() {
            let pair = crate::abi::split_field(chunk)
                .and_then(|(k, rest)| crate::abi::split_field(rest).map(|(v, rest)| (k, v, rest)));
            let (k, v, rest) = match pair {
                Some(p) => p,
                None => {
                    return Err(ctx
                        .core
                        .host_failed(Code::INTERNAL, "state_scan", name.as_bytes()))
                }
            };
            last = k;
            chunk = rest;
            if !f(ctx, k, v)? {
                return Ok(());
            }
        }
        if !more {
            return Ok(());
        }
        sb.start.clear();
        sb.start.extend_from_slice(last);
        sb.start.push(0);
    }
}

/// `ListState` is a list of `T` per key with O(1) `add`. It is laid out as
/// the Go SDK lays it out: the length (8 bytes, big-endian) at the user key
/// of length 0, and element `i` at the 8-byte big-endian user key `i`, so that
/// a scan returns the elements in order.
pub struct ListState<T> {
    name: &'static str,
    _t: PhantomData<fn() -> T>,
}

impl<T> ListState<T> {
    /// `new` declares a list state named `name`.
    pub const fn new(name: &'static str) -> Self {
        check_name(name);
        ListState {
            name,
            _t: PhantomData,
        }
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: Codec> ListState<T> {
    /// `len` returns the length of the current key's list.
    pub fn len(&self, ctx: &mut Context<'_>) -> Result<u64, Error> {
        match ctx.core.get(ctx.entry, self.name, false)? {
            None => Ok(0),
            Some(b) => u64::decode(b).map_err(|_| {
                Error::sdk(
                    Code::ERROR,
                    format!("list state {:?}", self.name),
                    format!("length of {} bytes, want 8", b.len()),
                )
            }),
        }
    }

    /// `is_empty` reports whether the current key's list is empty.
    pub fn is_empty(&self, ctx: &mut Context<'_>) -> Result<bool, Error> {
        Ok(self.len(ctx)? == 0)
    }

    /// `add` appends `v` to the current key's list: one state read and two
    /// writes, whatever the length.
    pub fn add<Q>(&self, ctx: &mut Context<'_>, v: &Q) -> Result<(), Error>
    where
        T: Borrow<Q>,
        Q: Encode + ?Sized,
    {
        let n = self.len(ctx)?;
        self.put(ctx, n, v)?;
        self.set_len(ctx, n + 1)
    }

    fn put<Q: Encode + ?Sized>(&self, ctx: &mut Context<'_>, i: u64, v: &Q) -> Result<(), Error> {
        let core = &mut *ctx.core;
        core.value.clear();
        v.encode(&mut core.value);
        core.user_key.clear();
        core.user_key.extend_from_slice(&i.to_be_bytes());
        core.put_value(ctx.entry, self.name, true)
    }

    fn set_len(&self, ctx: &mut Context<'_>, n: u64) -> Result<(), Error> {
        let core = &mut *ctx.core;
        core.value.clear();
        core.value.extend_from_slice(&n.to_be_bytes());
        core.put_value(ctx.entry, self.name, false)
    }

    /// `for_each` calls `f` with each element of the current key's list and
    /// its index, in order, until `f` returns an error.
    pub fn for_each<F>(&self, ctx: &mut Context<'_>, mut f: F) -> Result<(), Error>
    where
        F: FnMut(&mut Context<'_>, u64, T) -> Result<(), Error>,
    {
        let name = self.name;
        // The elements' keys are 8 bytes; the length's key (empty) sorts
        // before the first of them and is skipped by starting there.
        scan_raw(ctx, name, &[0u8; 8], |ctx, uk, v| {
            let i = u64::decode(uk).map_err(|_| {
                Error::sdk(
                    Code::ERROR,
                    format!("list state {:?}", name),
                    format!("element key of {} bytes, want 8", uk.len()),
                )
            })?;
            f(ctx, i, decode_in("list state", name, v)?)?;
            Ok(true)
        })
    }

    /// `get` returns the current key's list (empty if it has none).
    pub fn get(&self, ctx: &mut Context<'_>) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        self.for_each(ctx, |_, _, v| {
            out.push(v);
            Ok(())
        })?;
        Ok(out)
    }

    /// `update` replaces the current key's list with `vs`.
    pub fn update(&self, ctx: &mut Context<'_>, vs: &[T]) -> Result<(), Error> {
        self.clear(ctx)?;
        for (i, v) in vs.iter().enumerate() {
            self.put(ctx, i as u64, v)?;
        }
        if vs.is_empty() {
            return Ok(());
        }
        self.set_len(ctx, vs.len() as u64)
    }

    /// `clear` empties the current key's list.
    pub fn clear(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        ctx.core.clear(ctx.entry, self.name)
    }
}

/// `ReducingState` keeps one value per key that folds every added value in
/// with a reduce function: after `add(a)` and `add(b)` it holds
/// `reduce(a, b)`. It is stored as a [`ValueState`] of the same name.
///
/// ```
/// const TOTAL: weir::ReducingState<f64> = weir::ReducingState::new("total", |a, b| a + b);
/// ```
pub struct ReducingState<T> {
    value: ValueState<T>,
    reduce: fn(T, T) -> T,
}

impl<T> ReducingState<T> {
    /// `new` declares a reducing state named `name`.
    pub const fn new(name: &'static str, reduce: fn(T, T) -> T) -> Self {
        ReducingState {
            value: ValueState::new(name),
            reduce,
        }
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.value.name
    }
}

impl<T: Codec> ReducingState<T> {
    /// `add` folds `v` into the current key's value (or stores `v` if there is
    /// none).
    pub fn add(&self, ctx: &mut Context<'_>, v: T) -> Result<(), Error> {
        let v = match self.value.get(ctx)? {
            Some(acc) => (self.reduce)(acc, v),
            None => v,
        };
        self.value.set(ctx, &v)
    }

    /// `get` returns the current key's value, or None if nothing was added.
    pub fn get(&self, ctx: &mut Context<'_>) -> Result<Option<T>, Error> {
        self.value.get(ctx)
    }

    /// `clear` removes the current key's value.
    pub fn clear(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        self.value.clear(ctx)
    }
}

/// `AggregateFunction` aggregates values of type `In` into an accumulator
/// and reads a result from it, as Flink's AggregateFunction does.
pub trait AggregateFunction {
    /// `In` is the type of the values added.
    type In;
    /// `Acc` is what the state stores, with its codec.
    type Acc: Codec;
    /// `Out` is the type of the result.
    type Out;
    /// `create` returns a new, empty accumulator.
    fn create(&self) -> Self::Acc;
    /// `add` folds `v` into `acc` and returns the new accumulator.
    fn add(&self, acc: Self::Acc, v: Self::In) -> Self::Acc;
    /// `result` returns the aggregate of `acc`.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// `AggregatingState` keeps an accumulator per key, stored as a
/// [`ValueState`] of the same name, that `add` folds values into and `get`
/// reads the result of.
pub struct AggregatingState<F> {
    name: &'static str,
    f: F,
}

impl<F> AggregatingState<F> {
    /// `new` declares an aggregating state named `name` that aggregates with
    /// `f`.
    pub const fn new(name: &'static str, f: F) -> Self {
        check_name(name);
        AggregatingState { name, f }
    }

    /// `name` returns the state name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<F: AggregateFunction> AggregatingState<F> {
    fn acc(&self) -> ValueState<F::Acc> {
        ValueState {
            name: self.name,
            _t: PhantomData,
        }
    }

    /// `add` folds `v` into the current key's accumulator.
    pub fn add(&self, ctx: &mut Context<'_>, v: F::In) -> Result<(), Error> {
        let acc = match self.acc().get(ctx)? {
            Some(acc) => acc,
            None => self.f.create(),
        };
        let acc = self.f.add(acc, v);
        self.acc().set(ctx, &acc)
    }

    /// `get` returns the result of the current key's accumulator, or None if
    /// nothing was added.
    pub fn get(&self, ctx: &mut Context<'_>) -> Result<Option<F::Out>, Error> {
        Ok(self.acc().get(ctx)?.map(|acc| self.f.result(&acc)))
    }

    /// `clear` removes the current key's accumulator.
    pub fn clear(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        self.acc().clear(ctx)
    }
}
