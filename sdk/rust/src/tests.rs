//! Native tests of the SDK: the conformance vectors of `abi/testdata` (the
//! batch encoding, and the reference operators of sdk/rust/conformance run
//! over the in-memory host of [`crate::testing`]), the codecs' bytes, and the
//! window semantics, with the cases of the Go SDK's window tests.
//!
//! Run them with `cargo test`, or without cargo:
//! `rustc --edition 2021 --test src/lib.rs -o weir-test && ./weir-test`.

use crate::abi::{read_batch, BatchWriter, Entry, NO_TIMESTAMP};
use crate::json::Json;
use crate::testing::{BatchError, Emitted, Harness};
use crate::{
    Assigner, Code, Codec, Context, Decode, Encode, Error, ListState, MapState, Operator, Output,
    Record, Timer, ValueState, Window, WindowFunction, WindowState,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

// The reference operators, compiled into this test crate (they say
// `weir::...`, which `extern crate self as weir` in lib.rs resolves).
#[path = "../conformance/call/src/lib.rs"]
mod call;
#[path = "../conformance/runningsum/src/lib.rs"]
mod runningsum;
#[path = "../conformance/sideoutput/src/lib.rs"]
mod sideoutput;
#[path = "../conformance/timers/src/lib.rs"]
mod timers;
#[path = "../conformance/tumblecount/src/lib.rs"]
mod tumblecount;
#[path = "../conformance/upper/src/lib.rs"]
mod upper;

const BATCHES: &str = include_str!("../../../abi/testdata/batches.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `bytes_of` reads a byte field of a vector: `name` as UTF-8 text, or
/// `nameHex` as hex; absent is empty.
fn bytes_of(v: &Json, name: &str) -> Vec<u8> {
    if let Some(s) = v.get(name).and_then(Json::as_str) {
        return s.as_bytes().to_vec();
    }
    match v.get(&format!("{}Hex", name)).and_then(Json::as_str) {
        Some(h) => unhex(h),
        None => Vec::new(),
    }
}

fn time_of(v: &Json, name: &str) -> i64 {
    match v.get(name) {
        None | Some(Json::Null) => NO_TIMESTAMP,
        Some(n) => n.as_i64().expect("a time is an int64"),
    }
}

fn headers_of(v: &Json) -> Vec<u8> {
    let mut h = Vec::new();
    for pair in v.get("headers").and_then(Json::as_array).unwrap_or(&[]) {
        let p = pair.as_array().unwrap();
        crate::append_header(
            &mut h,
            p[0].as_str().unwrap().as_bytes(),
            p[1].as_str().unwrap().as_bytes(),
        );
    }
    h
}

fn entry_of(v: &Json) -> Entry {
    Entry {
        kind: match v.get("kind").and_then(Json::as_str).unwrap_or("record") {
            "record" => 0,
            "eventTimer" => 1,
            "processingTimer" => 2,
            k => panic!("unknown kind {}", k),
        },
        key: bytes_of(v, "key"),
        value: bytes_of(v, "value"),
        headers: headers_of(v),
        timestamp: time_of(v, "timestamp"),
        tracking_id: v
            .get("trackingId")
            .map(|t| t.as_u64().unwrap())
            .unwrap_or(0),
    }
}

/// `batch_vectors` checks the encoder and the decoder against the valid
/// cases of batches.json, and the validator against its invalid cases (ABI
/// §4).
#[test]
fn batch_vectors() {
    let doc = Json::parse(BATCHES.as_bytes()).unwrap();
    let valid = doc.get("valid").and_then(Json::as_array).unwrap();
    assert!(!valid.is_empty());
    for c in valid {
        let name = c.get("name").and_then(Json::as_str).unwrap();
        let want = unhex(c.get("hex").and_then(Json::as_str).unwrap());
        let entries: Vec<Entry> = c
            .get("entries")
            .and_then(Json::as_array)
            .unwrap()
            .iter()
            .map(entry_of)
            .collect();
        let mut w = BatchWriter::new(
            time_of(c, "watermark"),
            c.get("processingTime").and_then(Json::as_i64).unwrap(),
        );
        for e in &entries {
            w.push(e);
        }
        assert_eq!(w.finish(), want, "{}: encoding", name);
        let (h, got) = read_batch(&want, false).unwrap_or_else(|e| panic!("{}: {}", name, e));
        assert_eq!(h.watermark, time_of(c, "watermark"), "{}", name);
        assert_eq!(got, entries, "{}: decoding", name);
    }
    let invalid = doc.get("invalid").and_then(Json::as_array).unwrap();
    assert!(!invalid.is_empty());
    for c in invalid {
        let name = c.get("name").and_then(Json::as_str).unwrap();
        let b = unhex(c.get("hex").and_then(Json::as_str).unwrap());
        let records_only = c
            .get("recordsOnly")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if records_only {
            assert!(
                read_batch(&b, false).is_ok(),
                "{}: valid from the host",
                name
            );
        }
        let e = read_batch(&b, true)
            .err()
            .unwrap_or_else(|| panic!("{}: accepted", name));
        let entry = c.get("errorEntry").and_then(Json::as_i64).unwrap();
        let want_entry = if entry < 0 { None } else { Some(entry as u32) };
        assert_eq!(
            (e.entry, e.field),
            (
                want_entry,
                c.get("errorField").and_then(Json::as_str).unwrap()
            ),
            "{}",
            name
        );
    }
}

fn run_vector<O: Operator>(file: &str, text: &str, make: impl Fn() -> O) {
    let v = Json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {}", file, e));
    let config = v.get("config").and_then(Json::as_str).unwrap_or("");
    let mut h = Harness::new(make(), config.as_bytes()).unwrap();
    if !v.get("keyed").and_then(Json::as_bool).unwrap() {
        h = h.unkeyed();
    }
    // calls holds the calls the endpoints received in the current step:
    // (endpoint, request, idempotency key).
    let calls: Rc<RefCell<Vec<(String, String, String)>>> = Rc::default();
    for (name, answers) in v.get("endpoints").and_then(Json::as_object).unwrap_or(&[]) {
        let (name, answers, calls, file) = (
            name.clone(),
            answers.clone(),
            calls.clone(),
            file.to_string(),
        );
        h = h.with_endpoint(&name.clone(), move |request, key| {
            let (request, key) = (
                String::from_utf8_lossy(request).into_owned(),
                String::from_utf8_lossy(key).into_owned(),
            );
            calls
                .borrow_mut()
                .push((name.clone(), request.clone(), key.clone()));
            let a = answers
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a.get("request").and_then(Json::as_str) == Some(&request))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: endpoint {:?}: request {:?} that the vector does not answer",
                        file, name, request
                    )
                });
            let want = a.get("key").and_then(Json::as_str).unwrap_or("");
            assert_eq!(
                key, want,
                "{}: endpoint {:?}: the idempotency key of request {:?}",
                file, name, request
            );
            if a.get("unavailable").and_then(Json::as_bool) == Some(true) {
                return None;
            }
            let status = a.get("status").and_then(Json::as_u64).unwrap() as u32;
            Some((
                status,
                a.get("body")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec(),
            ))
        });
    }
    for (i, s) in v
        .get("steps")
        .and_then(Json::as_array)
        .unwrap()
        .iter()
        .enumerate()
    {
        h.clear_output();
        calls.borrow_mut().clear();
        let r = if s.get("restart").and_then(Json::as_bool) == Some(true) {
            h.restart(make(), config.as_bytes())
                .map_err(|e| panic!("{} step {}: restart: {}", file, i, e))
        } else if let Some(recs) = s.get("process").and_then(Json::as_array) {
            let entries: Vec<Entry> = recs.iter().map(entry_of).collect();
            let recs: Vec<Record<'_>> = entries
                .iter()
                .map(|e| Record {
                    key: &e.key,
                    value: &e.value,
                    headers: crate::Headers::new(&e.headers),
                    timestamp: e.timestamp,
                    tracking_id: e.tracking_id,
                })
                .collect();
            h.process(&recs)
        } else if let Some(t) = s.get("advanceWatermark") {
            h.advance_watermark(t.as_i64().unwrap())
        } else if let Some(t) = s.get("advanceProcessingTime") {
            h.advance_processing_time(t.as_i64().unwrap())
        } else {
            panic!("{} step {}: no action", file, i)
        };
        let want_calls: Vec<(String, String, String)> = s
            .get("expectCalls")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .map(|c| {
                let f = |n: &str| c.get(n).and_then(Json::as_str).unwrap_or("").to_string();
                (f("endpoint"), f("request"), f("key"))
            })
            .collect();
        assert_eq!(
            *calls.borrow(),
            want_calls,
            "{} step {}: the calls the endpoints received",
            file,
            i
        );
        if let Some(e) = s.get("expectError") {
            let err = r.expect_err(&format!("{} step {}: no error", file, i));
            let want = (
                Some(e.get("entry").and_then(Json::as_u64).unwrap() as u32),
                e.get("code").and_then(Json::as_u64).unwrap() as u32,
            );
            assert_eq!(
                (err.entry, err.code.get()),
                want,
                "{} step {}: {}",
                file,
                i,
                err
            );
            assert!(
                h.ports().is_empty(),
                "{} step {}: a failed batch emitted",
                file,
                i
            );
            continue;
        }
        r.unwrap_or_else(|e| panic!("{} step {}: {}", file, i, e));
        let expect = s.get("expect").and_then(Json::as_object).unwrap();
        let mut want_ports = Vec::new();
        for (p, recs) in expect {
            let port: u8 = p.parse().unwrap();
            let want: Vec<Emitted> = recs
                .as_array()
                .unwrap()
                .iter()
                .map(entry_of)
                .map(|e| Emitted {
                    key: e.key,
                    value: e.value,
                    headers: e.headers,
                    timestamp: e.timestamp,
                    tracking_id: e.tracking_id,
                })
                .collect();
            if !want.is_empty() {
                want_ports.push(port);
            }
            assert_eq!(
                h.output(port),
                &want[..],
                "{} step {} port {}",
                file,
                i,
                port
            );
        }
        want_ports.sort_unstable();
        assert_eq!(h.ports(), want_ports, "{} step {}: ports", file, i);
    }
}

/// `operator_vectors` runs every behaviour vector of abi/testdata/operators
/// against the Rust reference operators natively.
#[test]
fn operator_vectors() {
    let dir = "abi/testdata/operators";
    run_vector(
        &format!("{}/upper.json", dir),
        include_str!("../../../abi/testdata/operators/upper.json"),
        || upper::Upper,
    );
    run_vector(
        &format!("{}/runningsum.json", dir),
        include_str!("../../../abi/testdata/operators/runningsum.json"),
        || runningsum::RunningSum,
    );
    run_vector(
        &format!("{}/tumblecount.json", dir),
        include_str!("../../../abi/testdata/operators/tumblecount.json"),
        || tumblecount::TumbleCount,
    );
    run_vector(
        &format!("{}/timers.json", dir),
        include_str!("../../../abi/testdata/operators/timers.json"),
        || timers::Timers,
    );
    run_vector(
        &format!("{}/sideoutput.json", dir),
        include_str!("../../../abi/testdata/operators/sideoutput.json"),
        || sideoutput::SideOutput,
    );
    run_vector(
        &format!("{}/call.json", dir),
        include_str!("../../../abi/testdata/operators/call.json"),
        || call::Call,
    );
}

fn enc<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut b = Vec::new();
    v.encode(&mut b);
    b
}

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(v: T) -> Vec<u8> {
    let b = enc(&v);
    assert_eq!(T::decode(&b).unwrap(), v, "round trip of {:?}", v);
    b
}

/// `codec_bytes` checks the encodings against the Go SDK's (sdk/go/codec.go),
/// byte for byte.
#[test]
fn codec_bytes() {
    assert_eq!(
        round_trip(-5i64),
        [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]
    );
    assert_eq!(round_trip(0i64), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(round_trip(i64::MIN), [0; 8]);
    assert_eq!(round_trip(7u64), [0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(
        round_trip(-1.5f64),
        [0x40, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(round_trip(2.25f64), [0xc0, 0x02, 0, 0, 0, 0, 0, 0]);
    assert_eq!(round_trip(true), [1]);
    assert_eq!(round_trip(false), [0]);
    assert_eq!(round_trip("héllo".to_string()), "héllo".as_bytes());
    assert_eq!(round_trip(vec![0u8, 255]), [0, 255]);
    assert_eq!(enc("x"), enc(&"x".to_string()));
    assert!(i64::decode(&[1, 2]).is_err());
    assert!(bool::decode(&[2]).is_err());
    assert!(String::decode(&[0xff]).is_err());
}

/// `codec_order` checks that the fixed-size encodings sort as their values.
#[test]
fn codec_order() {
    let ints = [i64::MIN, -1 << 40, -2, -1, 0, 1, 3, 1 << 40, i64::MAX];
    for w in ints.windows(2) {
        assert!(enc(&w[0]) < enc(&w[1]), "{} < {}", w[0], w[1]);
    }
    let floats = [
        f64::NEG_INFINITY,
        -1e300,
        -1.5,
        -0.5,
        -0.0,
        0.0,
        1e-300,
        0.5,
        2.25,
        1e300,
        f64::INFINITY,
    ];
    for w in floats.windows(2) {
        assert!(enc(&w[0]) < enc(&w[1]), "{} < {}", w[0], w[1]);
    }
}

/// `Ops` is an operator made of closures, for the tests below.
struct Ops<P, T> {
    process: P,
    on_timer: T,
}

impl<P, T> Operator for Ops<P, T>
where
    P: FnMut(&mut Context<'_>, &Record<'_>) -> Result<(), Error> + 'static,
    T: FnMut(&mut Context<'_>, &Timer<'_>) -> Result<(), Error> + 'static,
{
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        (self.process)(ctx, rec)
    }
    fn on_timer(&mut self, ctx: &mut Context<'_>, t: &Timer<'_>) -> Result<(), Error> {
        (self.on_timer)(ctx, t)
    }
}

fn no_timers(_: &mut Context<'_>, _: &Timer<'_>) -> Result<(), Error> {
    Ok(())
}

fn rec<'a>(key: &'a str, value: &'a str, ts: i64, id: u64) -> Record<'a> {
    Record {
        key: key.as_bytes(),
        value: value.as_bytes(),
        headers: crate::Headers::default(),
        timestamp: ts,
        tracking_id: id,
    }
}

const STATE_VALUE: ValueState<i64> = ValueState::new("n");
const STATE_MAP: MapState<u64, Vec<u8>> = MapState::new("big");
const STATE_LIST: ListState<String> = ListState::new("l");

/// `failed_batch_rolls_back` checks that a failed batch leaves no state,
/// timer or output behind, and reports the entry and the operator's code.
#[test]
fn failed_batch_rolls_back() {
    let op = Ops {
        process: |ctx: &mut Context<'_>, r: &Record<'_>| {
            if r.value == b"fail" {
                return Err(Error::new(123, "failing on purpose"));
            }
            let n = STATE_VALUE.get(ctx)?.unwrap_or(0) + 1;
            STATE_VALUE.set(ctx, &n)?;
            ctx.set_event_timer(n)?;
            ctx.emit(r.key, r.value);
            Ok(())
        },
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap();
    h.process(&[rec("a", "x", 1, 1)]).unwrap();
    let err = h
        .process(&[rec("a", "y", 2, 2), rec("a", "fail", 3, 3)])
        .unwrap_err();
    assert_eq!(
        (err.entry, err.code),
        (Some(1), Code::from_raw(123)),
        "{}",
        err
    );
    assert!(err.message.contains("failing on purpose"), "{}", err);
    assert_eq!(h.state("n", b"a"), [(vec![], enc(&1i64))]);
    assert_eq!(h.timers().len(), 1);
    assert_eq!(h.output(0).len(), 1);
}

/// `error_codes` checks the status codes of failures: the operator's own,
/// 100 for an error without one (a host call's), and Error::new refusing
/// codes below 100.
#[test]
fn error_codes() {
    assert_eq!(Error::new(42, "x").code(), Code::ERROR);
    assert_eq!(Error::new(70000, "x").code(), Code::ERROR);
    assert_eq!(Error::new(65535, "x").code().get(), 65535);
    assert_eq!(Code::NOT_FOUND.to_string(), "NOT_FOUND");
    assert_eq!(Code::from_raw(101).to_string(), "GUEST_ERROR(101)");
    assert_eq!(Code::from_raw(42).to_string(), "UNKNOWN(42)");
    // A timer on an input that is not keyed: NOT_ALLOWED, batch code 100.
    let op = Ops {
        process: |ctx: &mut Context<'_>, _: &Record<'_>| ctx.set_event_timer(5),
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap().unkeyed();
    let err = h.process(&[rec("a", "x", 1, 1)]).unwrap_err();
    assert_eq!(err.code, Code::ERROR);
    assert!(err.message.contains("timer_set: NOT_ALLOWED"), "{}", err);
}

/// `internal_errors` checks that a host call that returns INTERNAL fails the
/// batch with INTERNAL whatever the operator does with the error (ABI §8).
#[test]
fn internal_errors() {
    let op = Ops {
        process: |ctx: &mut Context<'_>, r: &Record<'_>| {
            let put = STATE_VALUE.set(ctx, &1);
            match r.value {
                b"ignore" => Ok(()),
                b"other" => Err(Error::new(150, "an error of its own")),
                _ => put,
            }
        },
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap();
    h.fail_host_calls(Some(Code::INTERNAL));
    for (value, want) in [
        ("ignore", "state_put \"n\": INTERNAL"),
        ("return", "state_put \"n\": INTERNAL"),
        (
            "other",
            "the host failed (and then: an error of its own (GUEST_ERROR(150)))",
        ),
    ] {
        let err = h.process(&[rec("a", value, 1, 1)]).unwrap_err();
        assert_eq!(
            (err.entry, err.code),
            (Some(0), Code::INTERNAL),
            "{}: {}",
            value,
            err
        );
        assert!(
            err.message.contains(want),
            "{}: {} does not say {:?}",
            value,
            err,
            want
        );
    }
    h.fail_host_calls(Some(Code::NOT_ALLOWED));
    let err = h.process(&[rec("a", "return", 1, 1)]).unwrap_err();
    assert_eq!(err.code, Code::ERROR, "{}", err);
    assert!(h.process(&[rec("a", "ignore", 1, 1)]).is_ok());
    h.fail_host_calls(None);
    h.process(&[rec("a", "return", 1, 1)]).unwrap();
    assert_eq!(h.state("n", b"a").len(), 1);
}

/// `emit_checks` checks that a record over the limits, or with malformed
/// headers, fails the batch once the callback returns.
#[test]
fn emit_checks() {
    let big = vec![0u8; crate::MAX_KEY_BYTES + 1];
    let op = Ops {
        process: move |ctx: &mut Context<'_>, r: &Record<'_>| {
            match r.value {
                b"big-key" => ctx.emit(&big, b"v"),
                b"bad-headers" => ctx.emit_output(
                    0,
                    &Output::new(b"k", b"v").with_headers(&[5, 0, 0, 0, b'x']),
                ),
                _ => ctx.emit(r.key, r.value),
            }
            Ok(())
        },
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap().unkeyed();
    let err = h
        .process(&[rec("a", "ok", 1, 1), rec("a", "big-key", 2, 2)])
        .unwrap_err();
    assert_eq!((err.entry, err.code), (Some(1), Code::ERROR));
    assert!(err.message.contains("LIMIT_EXCEEDED"), "{}", err);
    let err = h.process(&[rec("a", "bad-headers", 2, 2)]).unwrap_err();
    assert!(err.message.contains("MALFORMED"), "{}", err);
    assert!(h.ports().is_empty());
    h.process(&[rec("a", "fine", 3, 3)]).unwrap();
    assert_eq!(h.output(0).len(), 1);
}

/// `map_scan_chunks` ranges over a map larger than the first scan buffer,
/// with one pair larger than it (ABI §5.1), from the start and from a key.
#[test]
fn map_scan_chunks() {
    let op = Ops {
        process: |ctx: &mut Context<'_>, r: &Record<'_>| {
            if r.value == b"fill" {
                for i in 0..300u64 {
                    let v = if i == 150 {
                        vec![b'L'; 300_000]
                    } else {
                        vec![i as u8; 1000]
                    };
                    STATE_MAP.put(ctx, &i, &v)?;
                }
                return Ok(());
            }
            let from: u64 = if r.value == b"from-100" { 100 } else { 0 };
            let (mut n, mut total, mut next) = (0u64, 0usize, from);
            STATE_MAP.scan(ctx, Some(&from), |_, k, v| {
                if k != next {
                    return Ok(false);
                }
                n += 1;
                total += v.len();
                next += 1;
                Ok(true)
            })?;
            ctx.emit(b"", format!("{} pairs, {} bytes", n, total).as_bytes());
            Ok(())
        },
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap();
    h.process(&[
        rec("k", "fill", 1, 1),
        rec("k", "range", 1, 1),
        rec("k", "from-100", 1, 1),
    ])
    .unwrap();
    let got: Vec<_> = h
        .output(0)
        .iter()
        .map(|r| String::from_utf8_lossy(&r.value).into_owned())
        .collect();
    assert_eq!(got, ["300 pairs, 599000 bytes", "200 pairs, 499000 bytes"]);
}

/// `list_state` checks add, len, get, update and clear, and the Go SDK's
/// layout (the length at the empty user key, elements at 8-byte indexes).
#[test]
fn list_state() {
    let op = Ops {
        process: |ctx: &mut Context<'_>, r: &Record<'_>| {
            match r.value {
                b"add" => {
                    STATE_LIST.add(ctx, "a")?;
                    STATE_LIST.add(ctx, &"b".to_string())?;
                }
                b"update" => STATE_LIST.update(ctx, &["x".to_string()])?,
                b"clear" => STATE_LIST.clear(ctx)?,
                _ => {}
            }
            let l = STATE_LIST.get(ctx)?;
            let v = format!("{}:{}", STATE_LIST.len(ctx)?, l.join(","));
            ctx.emit(r.key, v.as_bytes());
            Ok(())
        },
        on_timer: no_timers,
    };
    let mut h = Harness::new(op, b"").unwrap();
    h.process(&[rec("k", "add", 1, 1)]).unwrap();
    assert_eq!(
        h.state("l", b"k"),
        [
            (vec![], 2u64.to_be_bytes().to_vec()),
            (0u64.to_be_bytes().to_vec(), b"a".to_vec()),
            (1u64.to_be_bytes().to_vec(), b"b".to_vec())
        ]
    );
    h.process(&[rec("k", "update", 1, 1), rec("k", "clear", 1, 1)])
        .unwrap();
    let got: Vec<_> = h
        .output(0)
        .iter()
        .map(|r| String::from_utf8_lossy(&r.value).into_owned())
        .collect();
    assert_eq!(got, ["2:a,b", "1:x", "0:"]);
    assert!(h.state("l", b"k").is_empty());
}

// ---- windows: the cases of the Go SDK's window_test.go ----

/// `UNHANDLED_PORT` is where the window operator reports timers that no
/// window handled.
const UNHANDLED_PORT: u8 = 9;

/// `CountWindow` counts records per window and emits
/// "key [start, end)=n ts=T", T being ctx.timestamp() while it emits.
struct CountWindow;

impl WindowFunction for CountWindow {
    type Acc = i64;
    fn create(&self) -> i64 {
        0
    }
    fn add(&self, n: i64, _: &Record<'_>) -> Result<i64, Error> {
        Ok(n + 1)
    }
    fn merge(&self, a: i64, b: i64) -> Result<i64, Error> {
        Ok(a + b)
    }
    fn emit(&self, ctx: &mut Context<'_>, w: Window, n: i64) -> Result<(), Error> {
        let key = ctx.key();
        let v = format!(
            "{} {}={} ts={}",
            String::from_utf8_lossy(key),
            w,
            n,
            ctx.timestamp()
        );
        ctx.emit(key, v.as_bytes());
        Ok(())
    }
}

/// `window_op` adds records to `w` (the value "timer <ms>" sets a timer of
/// the operator's own instead) and reports unhandled timers.
fn window_op(w: WindowState<CountWindow>) -> Harness<impl Operator> {
    let w = std::rc::Rc::new(w);
    let w2 = w.clone();
    let op = Ops {
        process: move |ctx: &mut Context<'_>, r: &Record<'_>| {
            if let Some(ms) = r.value.strip_prefix(b"timer ") {
                return ctx.set_event_timer(crate::text::parse_i64(ms).unwrap());
            }
            w.add(ctx, r)
        },
        on_timer: move |ctx: &mut Context<'_>, t: &Timer<'_>| {
            if !w2.on_timer(ctx, t)? {
                let v = format!("unhandled {} timer {}", t.kind, t.time);
                ctx.emit_to(UNHANDLED_PORT, b"", v.as_bytes());
            }
            Ok(())
        },
    };
    Harness::new(op, b"").unwrap()
}

fn at(key: &str, ts: i64) -> Record<'_> {
    rec(key, "x", ts, ts as u64)
}

/// `fired` returns the window results emitted so far and forgets them,
/// checking that each record carries the timestamp its text reports.
fn fired<O: Operator>(h: &mut Harness<O>) -> Vec<String> {
    let mut vs = Vec::new();
    for r in h.output(0) {
        let v = String::from_utf8_lossy(&r.value).into_owned();
        assert!(
            v.ends_with(&format!("ts={}", r.timestamp)),
            "{} was emitted with timestamp {}",
            v,
            r.timestamp
        );
        vs.push(v);
    }
    for r in h.output(UNHANDLED_PORT) {
        vs.push(String::from_utf8_lossy(&r.value).into_owned());
    }
    h.clear_output();
    vs
}

fn assert_empty<O: Operator>(h: &Harness<O>, name: &str, keys: &[&str]) {
    assert!(h.timers().is_empty(), "timers left: {:?}", h.timers());
    for k in keys {
        assert!(
            h.state(name, k.as_bytes()).is_empty(),
            "window state left for key {}",
            k
        );
    }
}

fn ok(r: Result<(), BatchError>) {
    r.unwrap_or_else(|e| panic!("{}", e));
}

#[test]
fn tumbling_window() {
    let mut h = window_op(WindowState::new(
        "tw",
        Assigner::tumbling(Duration::from_secs(10)),
        CountWindow,
    ));
    ok(h.process(&[at("a", 1000), at("a", 9999), at("b", 5000), at("a", 10000)]));
    ok(h.advance_watermark(9998));
    assert!(fired(&mut h).is_empty());
    ok(h.advance_watermark(9999));
    assert_eq!(
        fired(&mut h),
        ["a [0, 10000)=2 ts=9999", "b [0, 10000)=1 ts=9999"]
    );
    // Late (window [0, 10000) has fired) and dropped: no late_records_to.
    ok(h.process(&[at("a", 9999), at("a", -1)]));
    ok(h.advance_watermark(19999));
    assert_eq!(fired(&mut h), ["a [10000, 20000)=1 ts=19999"]);
    assert_empty(&h, "tw", &["a", "b"]);
}

#[test]
fn sliding_window() {
    let a = Assigner::sliding(Duration::from_secs(10), Duration::from_secs(5));
    let mut h = window_op(WindowState::new("sw", a, CountWindow));
    ok(h.process(&[at("a", -3000), at("a", 7000), at("a", 12000)]));
    ok(h.advance_watermark(9999));
    assert_eq!(
        fired(&mut h),
        [
            "a [-10000, 0)=1 ts=-1",
            "a [-5000, 5000)=1 ts=4999",
            "a [0, 10000)=1 ts=9999"
        ]
    );
    ok(h.advance_watermark(14999));
    assert_eq!(fired(&mut h), ["a [5000, 15000)=2 ts=14999"]);
    ok(h.advance_watermark(30000));
    assert_eq!(fired(&mut h), ["a [10000, 20000)=1 ts=19999"]);
    assert_empty(&h, "sw", &["a"]);
}

/// `session_window` checks that session windows merge, and that the timers
/// of the windows merged away are deleted (else they would fire unhandled).
#[test]
fn session_window() {
    let mut h = window_op(WindowState::new(
        "sess",
        Assigner::session(Duration::from_secs(5)),
        CountWindow,
    ));
    let ev = crate::TimerKind::EventTime;
    ok(h.process(&[at("a", 1000), at("a", 10000)]));
    assert_eq!(
        h.timers(),
        [(ev, 5999, b"a".to_vec()), (ev, 14999, b"a".to_vec())]
    );
    // [6000, 11000) touches [1000, 6000) and overlaps [10000, 15000): one session.
    ok(h.process(&[at("a", 6000), at("b", 2000), at("a", 30000)]));
    assert_eq!(
        h.timers(),
        [
            (ev, 6999, b"b".to_vec()),
            (ev, 14999, b"a".to_vec()),
            (ev, 34999, b"a".to_vec())
        ]
    );
    ok(h.advance_watermark(14999));
    assert_eq!(
        fired(&mut h),
        ["b [2000, 7000)=1 ts=6999", "a [1000, 15000)=3 ts=14999"]
    );
    // Extending a session moves its timer.
    ok(h.process(&[at("a", 32000)]));
    ok(h.advance_watermark(34999));
    assert!(fired(&mut h).is_empty());
    ok(h.advance_watermark(40000));
    assert_eq!(fired(&mut h), ["a [30000, 37000)=2 ts=36999"]);
    assert_empty(&h, "sess", &["a", "b"]);
}

/// `window_lateness` checks allowed lateness (late firing, cleanup) and late
/// records sent to a side output.
#[test]
fn window_lateness() {
    const LATE_PORT: u8 = 2;
    let w = WindowState::new(
        "lw",
        Assigner::tumbling(Duration::from_secs(10)),
        CountWindow,
    )
    .allowed_lateness(Duration::from_secs(5))
    .late_records_to(LATE_PORT);
    let mut h = window_op(w);
    ok(h.process(&[at("a", 1000)]));
    ok(h.advance_watermark(9999));
    assert_eq!(fired(&mut h), ["a [0, 10000)=1 ts=9999"]);
    // Within the lateness: the window fires again at once, with the record.
    ok(h.process(&[at("a", 2000)]));
    assert_eq!(fired(&mut h), ["a [0, 10000)=2 ts=9999"]);
    ok(h.advance_watermark(12000));
    assert!(fired(&mut h).is_empty());
    // A window created after its end, within the lateness, fires at once.
    ok(h.process(&[at("b", 5000)]));
    assert_eq!(fired(&mut h), ["b [0, 10000)=1 ts=9999"]);
    ok(h.advance_watermark(14999));
    assert!(fired(&mut h).is_empty()); // cleanup only
    assert_empty(&h, "lw", &["a", "b"]);

    ok(h.process(&[rec("a", "too late", 3000, 77)]));
    let late = h.output(LATE_PORT);
    assert_eq!(late.len(), 1);
    assert_eq!(
        (
            late[0].value.as_slice(),
            late[0].timestamp,
            late[0].tracking_id
        ),
        (&b"too late"[..], 3000, 77)
    );
    h.clear_output();
}

/// `session_lateness` checks a session that merges after it fired, within
/// the allowed lateness: its cleanup timer moves too.
#[test]
fn session_lateness() {
    let w = WindowState::new("sl", Assigner::session(Duration::from_secs(5)), CountWindow)
        .allowed_lateness(Duration::from_secs(10))
        .late_records_to(2);
    let mut h = window_op(w);
    ok(h.process(&[at("a", 1000)]));
    ok(h.advance_watermark(5999));
    assert_eq!(fired(&mut h), ["a [1000, 6000)=1 ts=5999"]);
    ok(h.process(&[at("a", 4000)])); // [4000, 9000) merges into [1000, 9000), not yet due
    assert!(fired(&mut h).is_empty());
    ok(h.advance_watermark(8999));
    assert_eq!(fired(&mut h), ["a [1000, 9000)=2 ts=8999"]);
    ok(h.advance_watermark(18999)); // the old cleanup timer (15999) must be gone
    assert!(fired(&mut h).is_empty());
    assert_empty(&h, "sl", &["a"]);
    ok(h.process(&[at("a", 2000)]));
    assert_eq!(h.output(2).len(), 1, "the late record");
}

/// `window_foreign_timers` checks that on_timer does not claim timers that
/// are not its own.
#[test]
fn window_foreign_timers() {
    for a in [
        Assigner::tumbling(Duration::from_secs(1)),
        Assigner::sliding(Duration::from_secs(2), Duration::from_secs(1)),
        Assigner::session(Duration::from_secs(1)),
    ] {
        let mut h = window_op(WindowState::new("fw", a, CountWindow));
        ok(h.process(&[rec("a", "timer 123", 1, 1), at("a", 500)]));
        ok(h.advance_watermark(10000));
        let got = fired(&mut h);
        let unhandled = got.iter().filter(|v| v.contains("unhandled")).count();
        assert!(
            unhandled == 1
                && got.len() >= 2
                && got.last().map(String::as_str) == Some("unhandled event-time timer 123"),
            "{:?}: got {:?}, want timer 123 unhandled and the windows handled",
            a,
            got
        );
    }
}

#[test]
fn window_errors() {
    let mut h = window_op(WindowState::new(
        "ew",
        Assigner::tumbling(Duration::from_secs(1)),
        CountWindow,
    ));
    let err = h.process(&[rec("a", "x", NO_TIMESTAMP, 1)]).unwrap_err();
    assert_eq!((err.entry, err.code), (Some(0), Code::ERROR));
    assert!(err.message.contains("no timestamp"), "{}", err);
    assert!(std::panic::catch_unwind(|| Assigner::tumbling(Duration::from_micros(1))).is_err());
    assert!(std::panic::catch_unwind(|| ValueState::<i64>::new("")).is_err());
}
