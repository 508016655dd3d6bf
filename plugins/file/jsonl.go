package file

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file validates one JSON line and picks top-level fields out of it in a
// single pass, without decoding the line: the jsonl format needs only the key
// and timestamp fields, and json.Valid followed by a second scan cost twice as
// much. parseLine accepts exactly what json.Valid accepts (the fuzz target
// checks it), including its nesting limit.

// maxJSONDepth is the nesting limit of encoding/json, which parseLine matches.
const maxJSONDepth = 10000

// field is the name of a top-level member to pick out of JSON lines.
type field struct {
	name string
	// slow is true when a member name without escapes can match name only
	// after decoding: name is not valid UTF-8 or holds U+FFFD, which decoding
	// puts in place of invalid bytes.
	slow bool
}

func newField(name string) field {
	return field{name: name, slow: !utf8.ValidString(name) || strings.ContainsRune(name, utf8.RuneError)}
}

// jsonParser is the state of one parseLine call.
type jsonParser struct {
	b      []byte
	err    error
	fa, fb field
	va, vb []byte
}

// parseLine validates the JSON value line. If it is an object, isObject is
// true and va and vb are the raw values of its top-level members named by a
// and b (nil when absent; an empty name never matches; of duplicates, the last
// wins, as in encoding/json). err says what is invalid and at which column.
func parseLine(line []byte, a, b field) (va, vb []byte, isObject bool, err error) {
	p := jsonParser{b: line, fa: a, fb: b}
	i := skipSpace(line, 0)
	var end int
	if i < len(line) && line[i] == '{' {
		isObject = true
		end = p.object(i, 1, true)
	} else {
		end = p.value(i, 0)
	}
	if end >= 0 {
		if j := skipSpace(line, end); j < len(line) {
			p.fail(j, "unexpected %q after the JSON value", line[j])
		}
	}
	if p.err != nil {
		return nil, nil, false, p.err
	}
	return p.va, p.vb, isObject, nil
}

// fail records the first error, at byte i, and returns -1.
func (p *jsonParser) fail(i int, format string, args ...any) int {
	if p.err == nil {
		p.err = fmt.Errorf("invalid JSON at column %d: %s", i+1, fmt.Sprintf(format, args...))
	}
	return -1
}

// value parses the value that starts at b[i] inside depth open containers
// and returns the index after it, or -1.
func (p *jsonParser) value(i, depth int) int {
	b := p.b
	if i >= len(b) {
		return p.fail(i, "unexpected end of line, expected a value")
	}
	switch c := b[i]; {
	case c == '{':
		return p.object(i, depth+1, false)
	case c == '[':
		return p.array(i, depth+1)
	case c == '"':
		end, _ := p.str(i)
		return end
	case c == '-' || c >= '0' && c <= '9':
		return p.number(i)
	case c == 't':
		return p.literal(i, "true")
	case c == 'f':
		return p.literal(i, "false")
	case c == 'n':
		return p.literal(i, "null")
	}
	return p.fail(i, "unexpected %q, expected a value", b[i])
}

// object parses the object at b[i] (a '{'), the depth'th open container. At the
// top level it records the members named nameA and nameB.
func (p *jsonParser) object(i, depth int, top bool) int {
	if depth > maxJSONDepth {
		return p.fail(i, "nested deeper than %d", maxJSONDepth)
	}
	b := p.b
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return p.fail(i, "expected a member name")
		}
		nend, escaped := p.str(i)
		if nend < 0 {
			return -1
		}
		name := b[i+1 : nend-1]
		i = skipSpace(b, nend)
		if i >= len(b) || b[i] != ':' {
			return p.fail(i, "expected ':' after a member name")
		}
		vstart := skipSpace(b, i+1)
		vend := p.value(vstart, depth)
		if vend < 0 {
			return -1
		}
		if top {
			if p.fa.name != "" && p.fa.is(name, escaped) {
				p.va = b[vstart:vend]
			}
			if p.fb.name != "" && p.fb.is(name, escaped) {
				p.vb = b[vstart:vend]
			}
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return p.fail(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return p.fail(i, "unexpected %q, expected ',' or '}'", b[i])
		}
	}
}

// array parses the array at b[i] (a '['), the depth'th open container.
func (p *jsonParser) array(i, depth int) int {
	if depth > maxJSONDepth {
		return p.fail(i, "nested deeper than %d", maxJSONDepth)
	}
	b := p.b
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		end := p.value(i, depth)
		if end < 0 {
			return -1
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return p.fail(i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1
		default:
			return p.fail(i, "unexpected %q, expected ',' or ']'", b[i])
		}
	}
}

// str parses the string at b[i] (a '"') and returns the index after it and
// whether it has escapes. Like encoding/json it accepts invalid UTF-8.
func (p *jsonParser) str(i int) (end int, escaped bool) {
	b := p.b
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped
		case c == '\\':
			escaped = true
			j++
			if j >= len(b) {
				break
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if j+k >= len(b) || !isHexDigit(b[j+k]) {
						return p.fail(j+k, "invalid \\u escape"), false
					}
				}
				j += 4
			default:
				return p.fail(j, "invalid escape \\%c", b[j]), false
			}
		case c < 0x20:
			return p.fail(j, "control character %#x in a string", c), false
		}
	}
	return p.fail(i, "unterminated string"), false
}

// number parses the number at b[i].
func (p *jsonParser) number(i int) int {
	b := p.b
	j := i
	if b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		j = skipDigits(b, j)
	default:
		return p.fail(j, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		if j >= len(b) || !isDigit(b[j]) {
			return p.fail(j, "invalid number: no digit after '.'")
		}
		j = skipDigits(b, j)
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || !isDigit(b[j]) {
			return p.fail(j, "invalid number: no digit in the exponent")
		}
		j = skipDigits(b, j)
	}
	return j
}

func (p *jsonParser) literal(i int, lit string) int {
	if !bytes.HasPrefix(p.b[i:], []byte(lit)) {
		return p.fail(i, "invalid literal, expected %s", lit)
	}
	return i + len(lit)
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func skipDigits(b []byte, j int) int {
	for j < len(b) && isDigit(b[j]) {
		j++
	}
	return j
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// is reports whether the raw member name (the bytes between its quotes)
// decodes to f's name, as encoding/json decodes it (invalid UTF-8 becomes
// U+FFFD).
func (f field) is(raw []byte, escaped bool) bool {
	if !escaped && !f.slow {
		return string(raw) == f.name
	}
	s, ok := unquote(raw)
	return ok && s == f.name
}

// unquote decodes the raw contents of a JSON string the way encoding/json does
// (invalid UTF-8 becomes U+FFFD). It allocates; callers use it only for strings
// with escapes or invalid UTF-8.
func unquote(raw []byte) (string, bool) {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonType names the JSON type of the raw value v for error messages.
func jsonType(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// isString reports whether the raw value v is a JSON string.
func isString(v []byte) bool { return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' }

// isNumber reports whether the raw value v is a JSON number.
func isNumber(v []byte) bool { return len(v) > 0 && (v[0] == '-' || isDigit(v[0])) }

// isIntegerLiteral reports whether the JSON number v has no fraction and no
// exponent.
func isIntegerLiteral(v []byte) bool { return bytes.IndexAny(v, ".eE") < 0 }

// maxExactFloat is 2^53: every integer up to it is exact in a float64.
const maxExactFloat = 1 << 53

// appendKey appends the record key that the raw value v of the key field
// gives: a string's decoded contents, or a number rendered canonically (see
// doc.go). Other types are an error.
func appendKey(dst, v []byte) ([]byte, error) {
	switch {
	case isString(v):
		raw := v[1 : len(v)-1]
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return append(dst, raw...), nil
		}
		s, ok := unquote(raw)
		if !ok {
			return dst, fmt.Errorf("invalid string %s", v)
		}
		return append(dst, s...), nil
	case isNumber(v):
		return appendCanonicalNumber(dst, v)
	}
	return dst, fmt.Errorf("is %s; want a string or a number", jsonType(v))
}

// appendCanonicalNumber renders the JSON number v canonically: an integer
// literal as written ("-0" as "0"); any other number through float64, as an
// integer when its value is integral and at most 2^53 in magnitude, else in
// the shortest 'g' form of strconv.FormatFloat.
func appendCanonicalNumber(dst, v []byte) ([]byte, error) {
	if isIntegerLiteral(v) {
		if string(v) == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, v...), nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return dst, fmt.Errorf("number %s is out of range", v)
	}
	if f == math.Trunc(f) && math.Abs(f) <= maxExactFloat {
		return strconv.AppendInt(dst, int64(f), 10), nil
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
}

// parseTimestamp returns the event time in ms that the raw value v of the
// timestamp field gives: an integral number of milliseconds, or an RFC 3339
// string.
func parseTimestamp(v []byte) (int64, error) {
	switch {
	case isString(v):
		s, ok := unquote(v[1 : len(v)-1])
		if !ok {
			return 0, fmt.Errorf("invalid string %s", v)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time: %w", s, err)
		}
		return t.UnixMilli(), nil
	case isNumber(v):
		if isIntegerLiteral(v) {
			ms, ok := parseInt(v)
			if !ok {
				return 0, fmt.Errorf("%s is out of the range of int64 milliseconds", v)
			}
			return ms, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) >= math.MaxInt64 {
			return 0, fmt.Errorf("%s is not a whole number of milliseconds in the range of int64", v)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("is %s; want a number of milliseconds or an RFC 3339 string", jsonType(v))
}

// parseInt parses a JSON integer literal without allocating. It rejects values
// outside (math.MinInt64, math.MaxInt64]: math.MinInt64 is abi.NoTimestamp.
func parseInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) || n > math.MaxInt64/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
