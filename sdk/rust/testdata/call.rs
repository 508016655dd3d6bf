//! `call` is a test guest of the conformance harness: the journaled external
//! call of ABI §5.3 through the Rust SDK and the real host, the same operator
//! as the Go and C ones. A record's value is `ENDPOINT:REQUEST`; the guest
//! calls ENDPOINT with REQUEST and the idempotency key `k-REQUEST`, and emits
//! `STATUS BODY`, or `code N` when the call failed with code N.

use weir::{Context, Error, Operator, Record};

struct Call;

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
