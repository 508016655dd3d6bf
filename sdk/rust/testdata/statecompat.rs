//! `statecompat` is a test guest of the conformance harness with a Go twin
//! (internal/conformancetest/testdata/statecompat): both write the same
//! state of every kind and codec, and render what they read the same way, so
//! that the harness can check that each reads what the other wrote and that
//! both store the same bytes. The record's value is a command for its key:
//!
//! - `write`: value states of i64 (-5), u64 (7), f64 (-1.5), bool (true),
//!   String ("héllo") and bytes (00 ff); a map i64 -> String
//!   {-2: "minus two", 3: "three", 2^40: "big"}; a map f64 -> u64
//!   {2.25: 2, -0.5: 1}; a list of f64 [0.5, -0.25, 1e300]; a reducing sum
//!   of i64 (4, then 5); an aggregating f64 sum of i64 (3, then 4).
//! - `read`: emits one record whose value renders every state, floats as the
//!   hex of their bits: `v-i64=-5 v-u64=7 v-f64=bff8000000000000 ...`, with
//!   `none` for an absent value and `[]` for an empty map or list.
//! - `clear`: clears every state.

use std::fmt::Write;
use weir::{
    AggregateFunction, AggregatingState, Context, Error, ListState, MapState, Operator, Record,
    ReducingState, ValueState,
};

const V_I64: ValueState<i64> = ValueState::new("v-i64");
const V_U64: ValueState<u64> = ValueState::new("v-u64");
const V_F64: ValueState<f64> = ValueState::new("v-f64");
const V_BOOL: ValueState<bool> = ValueState::new("v-bool");
const V_STR: ValueState<String> = ValueState::new("v-str");
const V_BYTES: ValueState<Vec<u8>> = ValueState::new("v-bytes");
const M: MapState<i64, String> = MapState::new("m");
const MF: MapState<f64, u64> = MapState::new("mf");
const L: ListState<f64> = ListState::new("l");
const R: ReducingState<i64> = ReducingState::new("r", |a, b| a + b);
const A: AggregatingState<Sum> = AggregatingState::new("a", Sum);

struct Sum;

impl AggregateFunction for Sum {
    type In = i64;
    type Acc = f64;
    type Out = f64;
    fn create(&self) -> f64 {
        0.0
    }
    fn add(&self, acc: f64, v: i64) -> f64 {
        acc + v as f64
    }
    fn result(&self, acc: &f64) -> f64 {
        *acc
    }
}

fn opt<T>(s: &mut String, name: &str, v: Option<T>, f: impl FnOnce(T) -> String) {
    let text = v.map(f).unwrap_or_else(|| "none".to_string());
    let _ = write!(
        s,
        "{}{}={}",
        if s.is_empty() { "" } else { " " },
        name,
        text
    );
}

fn bits(f: f64) -> String {
    format!("{:016x}", f.to_bits())
}

struct StateCompat;

impl Operator for StateCompat {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        match rec.value {
            b"write" => {
                V_I64.set(ctx, &-5)?;
                V_U64.set(ctx, &7)?;
                V_F64.set(ctx, &-1.5)?;
                V_BOOL.set(ctx, &true)?;
                V_STR.set(ctx, "héllo")?;
                V_BYTES.set(ctx, &vec![0u8, 255])?;
                M.put(ctx, &-2, "minus two")?;
                M.put(ctx, &3, "three")?;
                M.put(ctx, &(1i64 << 40), "big")?;
                MF.put(ctx, &2.25, &2)?;
                MF.put(ctx, &-0.5, &1)?;
                L.add(ctx, &0.5)?;
                L.add(ctx, &-0.25)?;
                L.add(ctx, &1e300)?;
                R.add(ctx, 4)?;
                R.add(ctx, 5)?;
                A.add(ctx, 3)?;
                A.add(ctx, 4)?;
            }
            b"read" => {
                let mut s = String::new();
                opt(&mut s, "v-i64", V_I64.get(ctx)?, |v| v.to_string());
                opt(&mut s, "v-u64", V_U64.get(ctx)?, |v| v.to_string());
                opt(&mut s, "v-f64", V_F64.get(ctx)?, bits);
                opt(&mut s, "v-bool", V_BOOL.get(ctx)?, |v| v.to_string());
                opt(&mut s, "v-str", V_STR.get(ctx)?, |v| v);
                opt(&mut s, "v-bytes", V_BYTES.get(ctx)?, |v| {
                    v.iter().map(|b| format!("{:02x}", b)).collect()
                });
                let mut m = Vec::new();
                M.for_each(ctx, |_, k, v| {
                    m.push(format!("{}:{}", k, v));
                    Ok(())
                })?;
                let mut mf = Vec::new();
                MF.for_each(ctx, |_, k, v| {
                    mf.push(format!("{}:{}", bits(k), v));
                    Ok(())
                })?;
                let l: Vec<String> = L.get(ctx)?.into_iter().map(bits).collect();
                let _ = write!(
                    s,
                    " m=[{}] mf=[{}] l=[{}] l-len={}",
                    m.join(","),
                    mf.join(","),
                    l.join(","),
                    L.len(ctx)?
                );
                opt(&mut s, "r", R.get(ctx)?, |v| v.to_string());
                opt(&mut s, "a", A.get(ctx)?, bits);
                ctx.emit(rec.key, s.as_bytes());
            }
            b"clear" => {
                V_I64.clear(ctx)?;
                V_U64.clear(ctx)?;
                V_F64.clear(ctx)?;
                V_BOOL.clear(ctx)?;
                V_STR.clear(ctx)?;
                V_BYTES.clear(ctx)?;
                M.clear(ctx)?;
                MF.clear(ctx)?;
                L.clear(ctx)?;
                R.clear(ctx)?;
                A.clear(ctx)?;
            }
            _ => return Err(Error::new(100, "statecompat: unknown command")),
        }
        Ok(())
    }
}

weir::export!(StateCompat);
