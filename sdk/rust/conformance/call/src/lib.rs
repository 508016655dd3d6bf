//! `call` is the reference operator of the behaviour vectors for the
//! journaled external call of ABI §5.3 (abi/testdata/operators/README.md): a
//! record's value is `ENDPOINT:REQUEST`; it calls ENDPOINT with REQUEST and
//! the idempotency key `k-REQUEST`, and emits the record's key with
//! `STATUS BODY`, or `code N` when the call failed with code N, with the
//! record's timestamp and tracking id.

use weir::{Context, Error, Operator, Record};

/// `Call` is the call operator.
pub struct Call;

impl Operator for Call {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let v = rec.value;
        let i = v.iter().position(|&c| c == b':').unwrap_or(v.len());
        let ep = core::str::from_utf8(&v[..i]).unwrap_or("");
        let req = &v[(i + 1).min(v.len())..];
        let mut key = b"k-".to_vec();
        key.extend_from_slice(req);
        let out = match ctx.call(ep, req, &key) {
            Ok(r) => {
                let mut o = format!("{} ", r.status).into_bytes();
                o.extend_from_slice(&r.body);
                o
            }
            Err(e) => format!("code {}", e.code().get()).into_bytes(),
        };
        ctx.emit(rec.key, &out);
        Ok(())
    }
}

weir::export!(Call);
