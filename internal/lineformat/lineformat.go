package lineformat

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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
