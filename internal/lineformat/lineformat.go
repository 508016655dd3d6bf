package lineformat

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weirstream/weir/abi"
)

// The formats.
const (
	// Value writes the record's value.
	Value = "value"
	// KeyValue writes the key, a tab and the value.
	KeyValue = "keyvalue"
	// JSON writes {"key":...,"value":...,"timestamp":...}.
	JSON = "json"
)

// Check says what is wrong with format, if anything.
func Check(format string) error {
	switch format {
	case Value, KeyValue, JSON:
		return nil
	}
	return fmt.Errorf("%q is not %q, %q or %q", format, Value, KeyValue, JSON)
}

// Append appends the line for record e in format (one of the constants; an
// unknown one is taken as JSON), with its "\n". A record the format cannot
// write as one line is an error that says why.
func Append(dst []byte, format string, e *abi.Entry) ([]byte, error) {
	switch format {
	case Value:
		if bytes.IndexByte(e.Value, '\n') >= 0 {
			return dst, errors.New("value has a newline, which format value cannot write; use format json")
		}
		dst = append(dst, e.Value...)
	case KeyValue:
		if i := bytes.IndexAny(e.Key, "\t\n"); i >= 0 {
			return dst, errors.New("key has a tab or newline, which format keyvalue cannot write; use format json")
		}
		if bytes.IndexByte(e.Value, '\n') >= 0 {
			return dst, errors.New("value has a newline, which format keyvalue cannot write; use format json")
		}
		dst = append(dst, e.Key...)
		dst = append(dst, '\t')
		dst = append(dst, e.Value...)
	default: // JSON
		var kb64, vb64 bool
		dst = append(dst, `{"key":`...)
		dst, kb64 = appendJSONBytes(dst, e.Key)
		dst = append(dst, `,"value":`...)
		dst, vb64 = appendJSONBytes(dst, e.Value)
		dst = append(dst, `,"timestamp":`...)
		if e.Timestamp == abi.NoTimestamp {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendInt(dst, e.Timestamp, 10)
		}
		if kb64 {
			dst = append(dst, `,"keyBase64":true`...)
		}
		if vb64 {
			dst = append(dst, `,"valueBase64":true`...)
		}
		dst = append(dst, '}')
	}
	return append(dst, '\n'), nil
}

// appendJSONBytes appends b as a JSON string: its text if it is valid UTF-8,
// else its standard base64 encoding (then base64 is true).
func appendJSONBytes(dst, b []byte) (out []byte, base64Encoded bool) {
	if !utf8.Valid(b) {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), true
	}
	dst = append(dst, '"')
	start := 0
	for i, c := range b {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, b[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			const hexDigits = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"'), false
}

// maxPrefixBytes bounds a part name prefix.
const maxPrefixBytes = 100

// CheckPrefix says what is wrong with a part name prefix, if anything.
func CheckPrefix(p string) error {
	if len(p) > maxPrefixBytes {
		return fmt.Errorf("is longer than %d bytes", maxPrefixBytes)
	}
	if strings.HasPrefix(p, ".") {
		return errors.New("starts with '.' (names starting with '.' are hidden and ignored)")
	}
	for _, c := range []byte(p) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("has %q; use letters, digits, '-', '_' and '.'", c)
		}
	}
	return nil
}

// PartName is the name of the committed part of subtask for checkpoint ckpt:
// <prefix>-<checkpoint>-<subtask>, the checkpoint as at least 10 decimal
// digits and the subtask as at least 4, so that names sort by checkpoint.
func PartName(prefix string, ckpt int64, subtask int) string {
	return fmt.Sprintf("%s-%010d-%04d", prefix, ckpt, subtask)
}

// ParsePartName returns the checkpoint of a PartName with prefix; ok is false
// for any other name.
func ParsePartName(prefix, name string) (ckpt int64, ok bool) {
	rest, subtask, ok1 := CutLast(name)
	rest, ck, ok2 := CutLast(rest)
	if !ok1 || !ok2 || rest != prefix || !Digits(subtask, 4) || !Digits(ck, 10) {
		return 0, false
	}
	ckpt, err := strconv.ParseInt(ck, 10, 64)
	return ckpt, err == nil
}

// CutLast cuts s around its last '-'.
func CutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// Digits reports whether s is at least minLen decimal digits.
func Digits(s string, minLen int) bool {
	if len(s) < minLen {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// BatchError is an error of Lines about a batch entry: one that is not a
// record, one the format cannot write, or a malformed batch (Entry -1).
type BatchError struct {
	Entry int
	Err   error
	what  string // how the message names the entry
}

func (e *BatchError) Error() string {
	if e.Entry < 0 {
		return e.Err.Error()
	}
	return e.what + e.Err.Error()
}

func (e *BatchError) Unwrap() error { return e.Err }

// Lines formats each record of the encoded batch as one line in format and
// calls fn with it (valid during the call only); scratch is a buffer to
// reuse, returned grown. An entry that is not a record, a record the format
// cannot write and a malformed batch give a *BatchError; an error of fn is
// returned as it is.
func Lines(batch []byte, format string, scratch []byte, fn func(line []byte) error) ([]byte, error) {
	r := abi.NewReader(batch)
	for r.Next() {
		e := r.Entry()
		if e.Kind != abi.KindRecord {
			return scratch, &BatchError{Entry: r.Index(), Err: fmt.Errorf("has kind %s; a sink takes records only", e.Kind), what: fmt.Sprintf("batch entry %d ", r.Index())}
		}
		var err error
		scratch, err = Append(scratch[:0], format, e)
		if err != nil {
			return scratch, &BatchError{Entry: r.Index(), Err: err, what: fmt.Sprintf("batch entry %d (key %q): ", r.Index(), e.Key)}
		}
		if err := fn(scratch); err != nil {
			return scratch, err
		}
	}
	if err := r.Err(); err != nil {
		return scratch, &BatchError{Entry: -1, Err: err}
	}
	return scratch, nil
}
