//! `oob` is the Rust build of the conformance suite's out-of-bounds case
//! (internal/conformancetest): the operator is written with the SDK, and the
//! bad calls with the raw imports (the SDK never passes a bad pointer). It
//! emits every record unchanged, except on two keys:
//!
//! - `poison`: it calls the host functions with pointer/length pairs outside
//!   its memory, one pair at a time, and emits the key with a report of the
//!   results (`state_get_name=-3 ...`), then calls log and set_error with
//!   messages outside its memory, and returns OK.
//! - `poison-emit`: it calls emit with a batch outside its memory and returns
//!   OK; the host must fail the batch with OUT_OF_BOUNDS anyway (ABI §8).

use std::io::Write;
use weir::{Context, Error, Operator, Output, Record};

#[link(wasm_import_module = "weir_v1")]
extern "C" {
    #[link_name = "state_get"]
    fn state_get(
        entry: u32,
        name: u32,
        name_len: u32,
        ukey: u32,
        ukey_len: u32,
        out: u32,
        out_cap: u32,
    ) -> i64;
    #[link_name = "state_put"]
    fn state_put(
        entry: u32,
        name: u32,
        name_len: u32,
        ukey: u32,
        ukey_len: u32,
        val: u32,
        val_len: u32,
    ) -> u32;
    #[link_name = "state_delete"]
    fn state_delete(entry: u32, name: u32, name_len: u32, ukey: u32, ukey_len: u32) -> u32;
    #[link_name = "state_clear"]
    fn state_clear(entry: u32, name: u32, name_len: u32) -> u32;
    #[link_name = "state_scan"]
    fn state_scan(
        entry: u32,
        name: u32,
        name_len: u32,
        start: u32,
        start_len: u32,
        out: u32,
        out_cap: u32,
    ) -> i64;
    #[link_name = "emit"]
    fn emit(port: u32, ptr: u32, len: u32) -> u32;
    #[link_name = "log"]
    fn log(level: i32, ptr: u32, len: u32);
    #[link_name = "set_error"]
    fn set_error(ptr: u32, len: u32);
}

/// `OUTSIDE` with `OUTSIDE_LEN` runs past the 32-bit address space.
const OUTSIDE: u32 = 0xffff_fff0;
const OUTSIDE_LEN: u32 = 32;
/// `HUGE_LEN` from a pointer in memory runs past its end.
const HUGE_LEN: u32 = 0xffff_ff00;

fn addr(b: &[u8]) -> u32 {
    b.as_ptr() as u32
}

/// `report` makes the out-of-range calls for entry `i` and returns their
/// results, in the Go build's words.
fn report(i: u32) -> Vec<u8> {
    let name = b"s";
    let value = b"v";
    let buf = [0u8; 64];
    let (n, s) = (addr(name), name.len() as u32);
    let (b, bl) = (addr(&buf), buf.len() as u32);
    let mut r = Vec::new();
    // SAFETY: the host checks every pointer; none is dereferenced here.
    unsafe {
        let _ = write!(
            r,
            "state_get_name={}",
            state_get(i, OUTSIDE, OUTSIDE_LEN, 0, 0, b, bl)
        );
        let _ = write!(
            r,
            " state_get_out={}",
            state_get(i, n, s, 0, 0, OUTSIDE, OUTSIDE_LEN)
        );
        let _ = write!(
            r,
            " state_put_key={}",
            state_put(i, n, s, OUTSIDE, OUTSIDE_LEN, addr(value), 1)
        );
        let _ = write!(
            r,
            " state_put_value={}",
            state_put(i, n, s, 0, 0, b, HUGE_LEN)
        );
        let _ = write!(
            r,
            " state_delete_key={}",
            state_delete(i, n, s, OUTSIDE, OUTSIDE_LEN)
        );
        let _ = write!(
            r,
            " state_clear_name={}",
            state_clear(i, OUTSIDE, OUTSIDE_LEN)
        );
        let _ = write!(
            r,
            " state_scan_start={}",
            state_scan(i, n, s, OUTSIDE, OUTSIDE_LEN, b, bl)
        );
        let _ = write!(
            r,
            " state_scan_out={}",
            state_scan(i, n, s, 0, 0, OUTSIDE, OUTSIDE_LEN)
        );
        log(0, OUTSIDE, OUTSIDE_LEN);
        set_error(OUTSIDE, OUTSIDE_LEN);
    }
    r
}

struct Oob;

impl Operator for Oob {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        match rec.key {
            b"poison" => {
                let r = report(ctx.entry());
                ctx.emit(rec.key, &r);
            }
            // SAFETY: as in report.
            b"poison-emit" => unsafe {
                emit(0, OUTSIDE, OUTSIDE_LEN);
            },
            _ => ctx.emit_output(0, &Output::from(rec)),
        }
        Ok(())
    }
}

weir::export!(Oob);
