//! `runningsum` is the keyed reference operator of the behaviour vectors
//! (abi/testdata/operators/README.md): each record's value is a decimal int64
//! (ASCII, optional sign); the operator adds it to a per-key sum kept in a
//! value state and emits the key with the new sum, in decimal, inheriting
//! timestamp and tracking id. A value that is not a decimal int64 fails the
//! batch with status code 101.

use weir::{Context, Error, Operator, Record, ValueState};

/// `CODE_BAD_VALUE` is the status code of a record whose value is not a
/// number.
const CODE_BAD_VALUE: u32 = 101;

const SUM: ValueState<i64> = ValueState::new("sum");

/// `RunningSum` is the runningsum operator.
pub struct RunningSum;

impl Operator for RunningSum {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let n = match weir::text::parse_i64(rec.value) {
            Some(n) => n,
            None => {
                return Err(Error::new(
                    CODE_BAD_VALUE,
                    format!(
                        "runningsum: value {:?} is not a decimal int64",
                        String::from_utf8_lossy(rec.value)
                    ),
                ))
            }
        };
        // Go's int64 addition wraps; so does this one, so that both builds
        // store the same sum.
        let sum = SUM.get(ctx)?.unwrap_or(0).wrapping_add(n);
        SUM.set(ctx, &sum)?;
        let mut buf = [0u8; 20];
        ctx.emit(rec.key, weir::text::format_i64(sum, &mut buf));
        Ok(())
    }
}

weir::export!(RunningSum);
