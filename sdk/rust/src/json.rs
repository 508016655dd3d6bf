//! A small JSON reader for operator configurations (the job spec's `config`
//! reaches `Operator::init` as JSON). It keeps numbers as their text, so that
//! 64-bit integers are read exactly.
//!
//! ```
//! let c = weir::json::Json::parse(br#"{"mode": "running", "limit": 10}"#).unwrap();
//! assert_eq!(c.get("mode").and_then(|v| v.as_str()), Some("running"));
//! assert_eq!(c.get("limit").and_then(|v| v.as_i64()), Some(10));
//! ```

use crate::error::Error;

/// `MAX_DEPTH` bounds the nesting of arrays and objects, so that a hostile
/// configuration cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// `Json` is a parsed JSON value. Object members keep their order; numbers
/// keep their text.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `Null` is `null`.
    Null,
    /// `Bool` is `true` or `false`.
    Bool(bool),
    /// `Number` holds the number's text, which is valid JSON number syntax.
    Number(String),
    /// `String` is a string, unescaped.
    String(String),
    /// `Array` is an array.
    Array(Vec<Json>),
    /// `Object` is an object's members, in order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// `parse` parses the UTF-8 JSON text `b` (one value, with optional
    /// whitespace around it). The error says what is wrong and at which byte.
    pub fn parse(b: &[u8]) -> Result<Json, Error> {
        let mut p = Parser { b, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != b.len() {
            return Err(p.err("text after the value"));
        }
        Ok(v)
    }

    /// `get` returns the member `key` of an object (the last one, if the key
    /// repeats, as Go's encoding/json reads it), or None.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// `as_str` returns a string's value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// `as_bool` returns a boolean's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// `as_i64` returns a number that is an integer within i64 (no fraction
    /// or exponent).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => crate::text::parse_i64(n.as_bytes()),
            _ => None,
        }
    }

    /// `as_u64` returns a number that is a non-negative integer within u64.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => crate::text::parse_u64(n.as_bytes()),
            _ => None,
        }
    }

    /// `as_f64` returns a number as the nearest f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// `as_array` returns an array's elements.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// `as_object` returns an object's members, in order.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(m) => Some(m),
            _ => None,
        }
    }

    /// `is_null` reports whether the value is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        Error::msg(format!("json: {} at byte {}", what, self.i))
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn lit(&mut self, word: &[u8], v: Json) -> Result<Json, Error> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting deeper than 128"));
        }
        match self.b.get(self.i) {
            None => Err(self.err("unexpected end")),
            Some(b'n') => self.lit(b"null", Json::Null),
            Some(b't') => self.lit(b"true", Json::Bool(true)),
            Some(b'f') => self.lit(b"false", Json::Bool(false)),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(a));
                }
                loop {
                    self.ws();
                    a.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(a));
                        }
                        _ => return Err(self.err("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(m));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a member name"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return Err(self.err("expected ':'"));
                    }
                    self.i += 1;
                    self.ws();
                    m.push((k, self.value(depth + 1)?));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(m));
                        }
                        _ => return Err(self.err("expected ',' or '}'")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, Error> {
        let start = self.i;
        if self.b[self.i] == b'-' {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // The bytes are ASCII: the grammar above admits nothing else.
        let text = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
        Ok(Json::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("short \\u escape"))?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err("bad \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let c = match self.b.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(&c) => c,
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = match self.b.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        Some(&e) => e,
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi)
                                && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                                } else {
                                    self.i = save;
                                    0xfffd
                                }
                            } else {
                                hi
                            };
                            // A lone surrogate becomes U+FFFD, as in Go.
                            char::from_u32(cp).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.err("bad escape")),
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn values() {
        let v = Json::parse(
            br#" {"a": [1, -2.5e3, true, false, null], "s": "x\"\u00e9\ud83d\ude00\n", "a": {"n": 18446744073709551615}} "#,
        )
        .unwrap();
        let a = v.get("a").unwrap(); // the last "a"
        assert_eq!(a.get("n").and_then(Json::as_u64), Some(u64::MAX));
        assert_eq!(a.get("n").and_then(Json::as_i64), None);
        assert_eq!(v.get("s").and_then(Json::as_str), Some("x\"é😀\n"));
        match &v {
            Json::Object(m) => {
                let first = m[0].1.as_array().unwrap();
                assert_eq!(first[0].as_i64(), Some(1));
                assert_eq!(first[1].as_f64(), Some(-2500.0));
                assert_eq!(first[1].as_i64(), None);
                assert_eq!(first[2].as_bool(), Some(true));
                assert!(first[4].is_null());
            }
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn errors() {
        let cases: [&[u8]; 14] = [
            b"",
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"01",
            b"1.",
            b"-",
            b"1e",
            b"\"abc",
            b"\"\\x\"",
            b"\"a\nb\"",
            b"tru",
            b"{} {}",
            b"\"\xff\"",
        ];
        for c in cases {
            assert!(
                Json::parse(c).is_err(),
                "{:?} parsed",
                String::from_utf8_lossy(c)
            );
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            Json::parse(deep.as_bytes()).is_err(),
            "nesting of 200 parsed"
        );
    }
}
