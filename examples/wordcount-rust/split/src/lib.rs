//! `split` is the first operator of the word-count example: it splits each
//! line into lower-case words and emits one record per word, keyed by the
//! word, with an empty value. Words are runs of ASCII letters, digits and
//! apostrophes; everything else separates them. The words inherit the line's
//! timestamp and tracking id, so the line is acknowledged once all its words
//! are committed.

use weir::{Context, Error, Operator, Record};

/// `MAX_WORD_BYTES` bounds a word; longer runs are cut (a line of one huge
/// token should not become a huge key).
const MAX_WORD_BYTES: usize = 256;

/// `Split` splits lines into words.
pub struct Split;

impl Operator for Split {
    fn process(&mut self, ctx: &mut Context<'_>, rec: &Record<'_>) -> Result<(), Error> {
        let mut word = [0u8; MAX_WORD_BYTES];
        let mut n = 0;
        for &c in rec.value {
            let c = match c {
                b'A'..=b'Z' => c + (b'a' - b'A'),
                b'a'..=b'z' | b'0'..=b'9' | b'\'' => c,
                _ => {
                    if n > 0 {
                        ctx.emit(&word[..n], b"");
                        n = 0;
                    }
                    continue;
                }
            };
            if n < MAX_WORD_BYTES {
                word[n] = c;
                n += 1;
            }
        }
        if n > 0 {
            ctx.emit(&word[..n], b"");
        }
        Ok(())
    }
}

weir::export!(Split);
