//! `sideoutput` is the side-output reference operator of the behaviour
//! vectors (abi/testdata/operators/README.md). Each record's value is
//! `<port>:<payload>`; the operator emits the record's key with value payload
//! to that port (0..=255), keeping the headers. The emitted record inherits
//! the input's timestamp and tracking id, unless the input has a header
//! `timestamp` (decimal ms, or `none` for no timestamp) or `tracking-id`
//! (decimal), which set them explicitly (a value of 0 keeps the input's own, as
//! the vectors say). A value without a port in 0..=255
//! fails the batch with status code 103.

use weir::{Context, Error, Operator, Output, Record, NO_TIMESTAMP};

/// `CODE_BAD_VALUE` is the status code of a record whose value names no port.
const CODE_BAD_VALUE: u32 = 103;

/// `SideOutput` is the sideoutput operator.
pub struct SideOutput;

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl Operator for SideOutput {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let bad_port = || {
            Error::new(
                CODE_BAD_VALUE,
                format!(
                    "sideoutput: value {:?} does not start with a port 0..255 and a colon",
                    text(rec.value)
                ),
            )
        };
        let colon = rec
            .value
            .iter()
            .position(|&c| c == b':')
            .ok_or_else(bad_port)?;
        // The port is read as Go's strconv.Atoi reads it (an optional sign,
        // decimal digits), then checked against 0..=255.
        let port = weir::text::parse_i64(&rec.value[..colon])
            .filter(|p| (0..=255).contains(p))
            .ok_or_else(bad_port)? as u8;
        let mut out =
            Output::new(rec.key, &rec.value[colon + 1..]).with_headers(rec.headers.as_bytes());
        if let Some(v) = rec.header(b"timestamp") {
            let ts = if v == b"none" {
                NO_TIMESTAMP
            } else {
                weir::text::parse_i64(v).ok_or_else(|| {
                    Error::new(
                        CODE_BAD_VALUE,
                        format!(
                            "sideoutput: header timestamp {:?} is not a decimal int64",
                            text(v)
                        ),
                    )
                })?
            };
            if ts != 0 {
                // The vectors' rule: 0 keeps the entry's own timestamp (Go's Emit
                // cannot set 0), so every language gives the same bytes.
                out = out.with_timestamp(ts);
            }
        }
        if let Some(v) = rec.header(b"tracking-id") {
            let id = weir::text::parse_u64(v).ok_or_else(|| {
                Error::new(
                    CODE_BAD_VALUE,
                    format!(
                        "sideoutput: header tracking-id {:?} is not a decimal uint64",
                        text(v)
                    ),
                )
            })?;
            if id != 0 {
                out = out.with_tracking_id(id);
            }
        }
        ctx.emit_output(port, &out);
        Ok(())
    }
}

weir::export!(SideOutput);
