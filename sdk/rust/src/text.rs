//! Decimal integers to and from bytes without allocation or UTF-8 checks,
//! with the rules of Go's strconv (so that operators in both languages agree
//! on what is a number).

/// `format_i64` writes `n` in decimal into `buf` and returns the digits.
#[inline]
pub fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    if n >= 0 {
        return format_u64(n as u64, buf);
    }
    let digits = format_u64(n.unsigned_abs(), buf).len();
    // 20 bytes hold u64::MAX (20 digits) or a sign and i64::MIN's 19 digits.
    let start = 20 - digits - 1;
    buf[start] = b'-';
    &buf[start..]
}

/// `format_u64` writes `n` in decimal into `buf` and returns the digits.
#[inline]
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// `parse_i64` parses `b` as Go's `strconv.ParseInt(s, 10, 64)` does: an
/// optional sign (`+` or `-`), then one or more decimal digits, within the
/// range of i64; None for anything else (spaces, underscores, overflow).
#[inline]
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let u = parse_u64(digits)?;
    if neg {
        if u > 1 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg()) // 1<<63 wraps to i64::MIN, as it should
    } else if u > i64::MAX as u64 {
        None
    } else {
        Some(u as i64)
    }
}

/// `parse_u64` parses `b` as Go's `strconv.ParseUint(s, 10, 64)` does: one or
/// more decimal digits (no sign), within the range of u64.
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut u: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        u = u.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format() {
        let cases: [(i64, &str); 6] = [
            (0, "0"),
            (7, "7"),
            (-7, "-7"),
            (1000, "1000"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ];
        for (n, want) in cases {
            let mut buf = [0u8; 20];
            assert_eq!(
                format_i64(n, &mut buf),
                want.as_bytes(),
                "format_i64({})",
                n
            );
        }
        let mut buf = [0u8; 20];
        assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn parse() {
        // The cases and answers of the Go reference operator's test of
        // strconv.ParseInt (sdk/go/internal/conformance/runningsum).
        let cases: [(&str, Option<i64>); 22] = [
            ("0", Some(0)),
            ("5", Some(5)),
            ("-2", Some(-2)),
            ("+7", Some(7)),
            ("007", Some(7)),
            ("-0", Some(0)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("-9223372036854775808", Some(i64::MIN)),
            ("-9223372036854775809", None),
            ("18446744073709551616", None),
            ("99999999999999999999", None),
            ("", None),
            ("-", None),
            ("+", None),
            ("1_000", None),
            ("1.5", None),
            (" 1", None),
            ("1 ", None),
            ("0x10", None),
            ("--1", None),
            ("oops", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_i64(s.as_bytes()), want, "parse_i64({:?})", s);
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u64(b"-0"), None);
    }
}
