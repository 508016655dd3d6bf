//! The constants and encodings of the Weir ABI v1 (`abi/ABI.md` in the Weir
//! repository), mirrored here so that the SDK depends on nothing: the batch
//! and entry layouts of §4, the header encoding of §4.2, the limits of §9.
//!
//! Operators rarely need this module beyond [`append_header`] and the
//! limits; the conformance vectors in `abi/testdata` keep it in step with the
//! host.

use crate::error::{Code, Error};

/// `MAGIC` is the first field of every batch: the bytes `W R B 1` read as a
/// little-endian u32 (ABI §4.1).
pub const MAGIC: u32 = 0x3142_5257;
/// `BATCH_HEADER_BYTES` is the size of the batch header (ABI §4.1).
pub const BATCH_HEADER_BYTES: usize = 32;
/// `ENTRY_HEADER_BYTES` is the size of an entry's fixed part (ABI §4.2).
pub const ENTRY_HEADER_BYTES: usize = 32;
/// `OFF_CURSOR` is the offset of the cursor in the batch header (ABI §4.4).
pub const OFF_CURSOR: usize = 24;

/// `KIND_RECORD` is the entry kind of a data record.
pub const KIND_RECORD: u8 = 0;
/// `KIND_EVENT_TIMER` is the entry kind of a fired event-time timer.
pub const KIND_EVENT_TIMER: u8 = 1;
/// `KIND_PROCESSING_TIMER` is the entry kind of a fired processing-time timer.
pub const KIND_PROCESSING_TIMER: u8 = 2;

/// `NO_TIMESTAMP` (INT64_MIN) is the timestamp of a record without event time,
/// and the watermark before the first one is known (ABI §1).
pub const NO_TIMESTAMP: i64 = i64::MIN;

/// `MAX_KEY_BYTES` bounds record keys and map-state user keys, in bytes (ABI §9).
pub const MAX_KEY_BYTES: usize = 65_536;
/// `MAX_VALUE_BYTES` bounds record values and state values, in bytes (ABI §9).
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// `MAX_EMIT_BYTES` bounds the batch bytes one call may emit in total (ABI §9).
pub const MAX_EMIT_BYTES: usize = 64 << 20;
/// `MAX_STATE_NAME_BYTES` bounds a state name, in bytes; names are 1 to 255
/// bytes long (ABI §5.2).
pub const MAX_STATE_NAME_BYTES: usize = 255;
/// `MAX_BATCH_ENTRIES` bounds the entries of one batch, as the host's
/// validator does, so that a count read from untrusted bytes is bounded.
pub const MAX_BATCH_ENTRIES: u32 = 1 << 20;
/// `MAX_PORT` is the highest output port; 0 is the main output (ABI §5).
pub const MAX_PORT: u8 = 255;

#[inline(always)]
pub(crate) fn le_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

#[inline(always)]
pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// `append_header` appends the header `(name, value)` in its ABI encoding
/// (`u32 name_len, name, u32 value_len, value`, ABI §4.2) to `dst`, which
/// then holds encoded headers to pass to [`crate::Output::with_headers`].
/// Names need not be unique; order is kept.
pub fn append_header(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    dst.reserve(8 + name.len() + value.len());
    dst.extend_from_slice(&(name.len() as u32).to_le_bytes());
    dst.extend_from_slice(name);
    dst.extend_from_slice(&(value.len() as u32).to_le_bytes());
    dst.extend_from_slice(value);
}

/// `Headers` is a view of a record's encoded headers (ABI §4.2). Headers the
/// host hands over are always well formed; for other bytes, [`Headers::check`]
/// says whether they are, and iteration stops at the first malformed one.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Headers<'a>(&'a [u8]);

impl<'a> Headers<'a> {
    /// `new` views the encoded headers `encoded`.
    #[inline]
    pub const fn new(encoded: &'a [u8]) -> Self {
        Headers(encoded)
    }

    /// `as_bytes` returns the encoded headers.
    #[inline]
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// `is_empty` reports whether there are no headers.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `get` returns the value of the first header named `name`, if any.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `iter` returns the headers as `(name, value)` pairs, in order.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter(self.0)
    }

    /// `check` returns an error if the bytes are not a sequence of headers
    /// that fills them exactly.
    pub fn check(&self) -> Result<(), Error> {
        let mut rest = self.0;
        while !rest.is_empty() {
            match split_header(rest) {
                Some((_, _, r)) => rest = r,
                None => {
                    return Err(Error::sdk(
                        Code::MALFORMED,
                        "headers",
                        format!(
                            "a header runs past the end of the {} bytes of headers",
                            self.0.len()
                        ),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = HeaderIter<'a>;
    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

impl core::fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
            .finish()
    }
}

/// `HeaderIter` iterates over encoded headers; see [`Headers::iter`].
#[derive(Clone)]
pub struct HeaderIter<'a>(&'a [u8]);

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let (n, v, rest) = split_header(self.0)?;
        self.0 = rest;
        Some((n, v))
    }
}

/// `split_header` splits the first header off `b`, or returns None if `b` is
/// empty or does not start with a whole header.
fn split_header(b: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (name, rest) = split_field(b)?;
    let (value, rest) = split_field(rest)?;
    Some((name, value, rest))
}

/// `split_field` splits one `u32 len, bytes` field off `b`.
pub(crate) fn split_field(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.len() < 4 {
        return None;
    }
    let n = le_u32(b, 0) as usize;
    let rest = &b[4..];
    if n > rest.len() {
        return None;
    }
    Some(rest.split_at(n))
}

/// `Entry` is one entry of a batch, as [`BatchWriter`] writes it and
/// [`read_batch`] reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// `kind` is [`KIND_RECORD`], [`KIND_EVENT_TIMER`] or [`KIND_PROCESSING_TIMER`].
    pub kind: u8,
    /// `key` is the entry's key.
    pub key: Vec<u8>,
    /// `value` is the record's value (empty for timers).
    pub value: Vec<u8>,
    /// `headers` are encoded (see [`append_header`]).
    pub headers: Vec<u8>,
    /// `timestamp` is the event time in ms, or the timer's time.
    pub timestamp: i64,
    /// `tracking_id` is the id of the input message (0: none).
    pub tracking_id: u64,
}

/// `BatchWriter` encodes a batch (ABI §4) for tests and harnesses; operators
/// emit through [`crate::Context`], which encodes in place.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
}

impl BatchWriter {
    /// `new` starts a batch with the watermark and processing time of its
    /// header.
    pub fn new(watermark: i64, processing_time: i64) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&MAGIC.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&watermark.to_le_bytes());
        buf.extend_from_slice(&processing_time.to_le_bytes());
        buf.extend_from_slice(&[0u8; 8]); // cursor and reserved
        BatchWriter { buf, count: 0 }
    }

    /// `push` appends an entry.
    pub fn push(&mut self, e: &Entry) {
        put_entry(
            &mut self.buf,
            e.kind,
            &e.key,
            &e.value,
            &e.headers,
            e.timestamp,
            e.tracking_id,
        );
        self.count += 1;
    }

    /// `finish` returns the encoded batch.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[4..8].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// `put_entry` appends one entry in its ABI encoding to `buf`.
#[inline(always)]
pub(crate) fn put_entry(
    buf: &mut Vec<u8>,
    kind: u8,
    key: &[u8],
    value: &[u8],
    headers: &[u8],
    timestamp: i64,
    tracking_id: u64,
) {
    let mut h = [0u8; ENTRY_HEADER_BYTES];
    h[0] = kind;
    h[4..8].copy_from_slice(&(key.len() as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(value.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(headers.len() as u32).to_le_bytes());
    h[16..24].copy_from_slice(&timestamp.to_le_bytes());
    h[24..32].copy_from_slice(&tracking_id.to_le_bytes());
    let need = ENTRY_HEADER_BYTES + key.len() + value.len() + headers.len();
    buf.reserve(need);
    // NB: one reservation and four copies, rather than four extend_from_slice
    // calls that each check the capacity: this runs for every emitted record.
    // SAFETY: reserve made room for `need` bytes after len; the four copies
    // fill exactly those bytes from slices that cannot overlap the spare
    // capacity of buf; set_len then covers initialised bytes only.
    unsafe {
        let mut p = buf.as_mut_ptr().add(buf.len());
        for part in [&h[..], key, value, headers] {
            std::ptr::copy_nonoverlapping(part.as_ptr(), p, part.len());
            p = p.add(part.len());
        }
        buf.set_len(buf.len() + need);
    }
}

/// `BatchHeader` holds the fields of a batch header that [`read_batch`]
/// returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// `watermark` is the operator's event-time watermark.
    pub watermark: i64,
    /// `processing_time` is the host's processing time in ms.
    pub processing_time: i64,
}

/// `read_batch` decodes and validates a batch (ABI §4.3). With
/// `records_only`, timer entries are invalid (the rule for emitted batches).
/// The error names the entry (`None`: the batch header) and the field, with
/// the field names of the conformance vectors (`header`, `magic`, `count`,
/// `length`, `kind`, `reserved`, `key`, `value`, `headers`).
pub fn read_batch(
    b: &[u8],
    records_only: bool,
) -> Result<(BatchHeader, Vec<Entry>), BatchFormatError> {
    let bad = |entry: Option<u32>, field: &'static str| BatchFormatError { entry, field };
    if b.len() < BATCH_HEADER_BYTES {
        return Err(bad(None, "header"));
    }
    if le_u32(b, 0) != MAGIC {
        return Err(bad(None, "magic"));
    }
    let count = le_u32(b, 4);
    if count > MAX_BATCH_ENTRIES {
        return Err(bad(None, "count"));
    }
    let header = BatchHeader {
        watermark: le_u64(b, 8) as i64,
        processing_time: le_u64(b, 16) as i64,
    };
    // Every entry takes at least its header: no more room than that is made
    // ahead for a count read from untrusted bytes.
    let room = (b.len() - BATCH_HEADER_BYTES) / ENTRY_HEADER_BYTES;
    let mut entries = Vec::with_capacity(room.min(count as usize));
    let mut off = BATCH_HEADER_BYTES;
    // NB: the checks run in the order of the host's abi.Validate, so that both
    // report the same field for a batch that breaks several rules.
    for i in 0..count {
        let e = Some(i);
        if b.len() - off < ENTRY_HEADER_BYTES {
            return Err(bad(e, "header"));
        }
        let h = &b[off..off + ENTRY_HEADER_BYTES];
        let (kl, vl, hl) = (
            le_u32(h, 4) as usize,
            le_u32(h, 8) as usize,
            le_u32(h, 12) as usize,
        );
        let start = off + ENTRY_HEADER_BYTES;
        let end = start as u64 + kl as u64 + vl as u64 + hl as u64;
        let kind = h[0];
        if end > b.len() as u64 {
            return Err(bad(e, "length"));
        }
        if kind > KIND_PROCESSING_TIMER || (records_only && kind != KIND_RECORD) {
            return Err(bad(e, "kind"));
        }
        if h[1..4] != [0, 0, 0] {
            return Err(bad(e, "reserved"));
        }
        if kl > MAX_KEY_BYTES {
            return Err(bad(e, "key"));
        }
        if vl > MAX_VALUE_BYTES {
            return Err(bad(e, "value"));
        }
        let (key, rest) = b[start..end as usize].split_at(kl);
        let (value, headers) = rest.split_at(vl);
        if Headers(headers).check().is_err() {
            return Err(bad(e, "headers"));
        }
        entries.push(Entry {
            kind,
            key: key.to_vec(),
            value: value.to_vec(),
            headers: headers.to_vec(),
            timestamp: le_u64(h, 16) as i64,
            tracking_id: le_u64(h, 24),
        });
        off = end as usize;
    }
    if off != b.len() {
        return Err(bad(None, "count"));
    }
    if le_u32(b, 28) != 0 {
        return Err(bad(None, "reserved"));
    }
    Ok((header, entries))
}

/// `BatchFormatError` says where a batch is malformed: the entry (`None`:
/// the batch header) and the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchFormatError {
    /// `entry` is the index of the bad entry, or None for the batch header.
    pub entry: Option<u32>,
    /// `field` names what is wrong.
    pub field: &'static str,
}

impl core::fmt::Display for BatchFormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.entry {
            Some(i) => write!(f, "malformed batch: entry {}: bad {}", i, self.field),
            None => write!(f, "malformed batch: bad {}", self.field),
        }
    }
}

impl std::error::Error for BatchFormatError {}
