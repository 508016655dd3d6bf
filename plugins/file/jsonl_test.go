package file

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name, line string
		a, b       string // wanted raw values of fields "a" and "b"; "" = absent
		notObject  bool
		wantErr    string
	}{
		{name: "both", line: `{"a":1,"b":"x"}`, a: `1`, b: `"x"`},
		{name: "empty object", line: `{}`},
		{name: "empty object with spaces", line: " \t{ }\r "},
		{name: "nested values skipped", line: `{"x":{"a":[1,{"b":2}],"s":"}]\""},"b":[1,2],"a":{"c":"d"}}`, a: `{"c":"d"}`, b: `[1,2]`},
		{name: "strings with braces", line: `{"x":"{[","a":"]}"}`, a: `"]}"`},
		{name: "literals", line: `{"a":true,"b":null}`, a: `true`, b: `null`},
		{name: "escaped names", line: `{"\u0061":1,"\"b":2}`, a: `1`},
		{name: "last duplicate wins", line: `{"a":1,"a":2}`, a: `2`},
		{name: "numbers", line: "{ \"a\" :\t-1.5e+3 ,\n\"b\" : 0 }", a: `-1.5e+3`, b: `0`},
		{name: "invalid UTF-8 is valid JSON", line: "{\"a\":\"\xff\"}", a: "\"\xff\""},
		{name: "array", line: `[1,{"a":2}]`, notObject: true},
		{name: "string", line: `"a"`, notObject: true},
		{name: "number", line: `-0.5E-7`, notObject: true},
		{name: "unterminated", line: `{"a":1`, wantErr: "column 7: unterminated object"},
		{name: "unterminated string", line: `{"a":"x`, wantErr: "column 6: unterminated string"},
		{name: "missing colon", line: `{"a" 1}`, wantErr: "column 6: expected ':'"},
		{name: "missing value", line: `{"a":}`, wantErr: "column 6: unexpected '}', expected a value"},
		{name: "trailing comma", line: `{"a":1,}`, wantErr: "column 8: expected a member name"},
		{name: "trailing data", line: `{} {}`, wantErr: "column 4: unexpected '{' after the JSON value"},
		{name: "leading zero", line: `[01]`, wantErr: "column 3: unexpected '1', expected ',' or ']'"},
		{name: "bare minus", line: `-`, wantErr: "invalid number"},
		{name: "no fraction digits", line: `1.`, wantErr: "no digit after '.'"},
		{name: "no exponent digits", line: `1e+`, wantErr: "no digit in the exponent"},
		{name: "bad escape", line: `"\x"`, wantErr: `invalid escape \x`},
		{name: "short unicode escape", line: `"\u12"`, wantErr: `invalid \u escape`},
		{name: "control character", line: "\"a\tb\"", wantErr: "control character 0x9"},
		{name: "bad literal", line: `{"a":nul}`, wantErr: "invalid literal, expected null"},
		{name: "empty", line: ``, wantErr: "unexpected end of line"},
		{name: "too deep", line: strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1), wantErr: "nested deeper than 10000"},
		{name: "deep enough", line: strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth), notObject: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, isObject, err := parseLine([]byte(tt.line), newField("a"), newField("b"))
			if valid := json.Valid([]byte(tt.line)); valid != (tt.wantErr == "") {
				t.Fatalf("test case disagrees with json.Valid (%v)", valid)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseLine(%.40s) error = %v, want one with %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseLine(%.40s): %v", tt.line, err)
			}
			if isObject == tt.notObject {
				t.Errorf("parseLine(%.40s) isObject = %v", tt.line, isObject)
			}
			if string(a) != tt.a || string(b) != tt.b {
				t.Errorf("parseLine(%s) = %q, %q; want %q, %q", tt.line, a, b, tt.a, tt.b)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		ok       bool
	}{
		{"zero", "0", 0, true},
		{"negative", "-42", -42, true},
		{"max", "9223372036854775807", 9223372036854775807, true},
		{"min+1", "-9223372036854775807", -9223372036854775807, true},
		{"min is NoTimestamp", "-9223372036854775808", 0, false},
		{"over max", "9223372036854775808", 0, false},
		{"far over", "99999999999999999999999", 0, false},
		{"empty", "", 0, false},
		{"minus only", "-", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseInt([]byte(tt.in))
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseLine checks parseLine against encoding/json on any input: it
// accepts exactly what json.Valid accepts; on an object it finds the same
// top-level member values as decoding into a map (where the last duplicate
// wins); appendKey decodes strings as encoding/json does; and nothing panics.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"id":"k","ts":1}`, `{"id":{"id":1},"ts":[{"ts":2}]}`, `{"i\u0064":"\u00e9\n"}`,
		`{"id":"a","id":"b"}`, `[1]`, "{\"id\":\"\xff\"}", `{"id":1e400}`, `{`, `{"a":"}`,
		` {"id" : -0.0 } `, `"\uD800"`, `01`, `1.e5`, `[1,]`, `{"\ufffd":1}`, "{\"\xff\":1}",
	} {
		f.Add([]byte(s), "id")
	}
	f.Add([]byte("{\"\xff\":1}"), "\ufffd")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		va, vb, isObject, err := parseLine(data, newField(name), newField("ts"))
		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("parseLine(%q) error = %v, json.Valid = %v", data, err, valid)
		}
		if err != nil {
			return
		}
		if va != nil {
			appendKey(nil, va)
		}
		if vb != nil {
			parseTimestamp(vb)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil || m == nil {
			if isObject {
				t.Fatalf("parseLine(%q) says object, encoding/json does not", data)
			}
			return
		}
		if !isObject {
			t.Fatalf("parseLine(%q) says not an object, encoding/json decodes one", data)
		}
		want, ok := m[name]
		if name == "" {
			want, ok = nil, false
		}
		if ok != (va != nil) || !bytes.Equal(va, want) {
			t.Fatalf("parseLine(%q) field %q = %q (found %v); encoding/json gives %q (found %v)", data, name, va, va != nil, want, ok)
		}
		if ok && want[0] == '"' {
			var s string
			if err := json.Unmarshal(want, &s); err != nil {
				t.Fatal(err)
			}
			if k, err := appendKey(nil, va); err != nil || string(k) != s {
				t.Fatalf("appendKey(%s) = %q, %v; encoding/json decodes %q", va, k, err, s)
			}
		}
	})
}
