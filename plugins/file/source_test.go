package file

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// writeFiles creates the files (name -> contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustSource(t *testing.T, opts, baseDir string) runtime.Source {
	t.Helper()
	src, err := NewSource(json.RawMessage(opts), baseDir)
	if err != nil {
		t.Fatalf("NewSource(%s): %v", opts, err)
	}
	return src
}

var testEnv = runtime.SourceEnv{Clock: runtime.SystemClock{}, Logger: slog.New(slog.DiscardHandler)}

// readAll reads split from position pos to the end or to the first error and
// returns the records and the error (nil at io.EOF).
func readAll(t *testing.T, src runtime.Source, split string, pos []byte) ([]conformance.Record, []byte, error) {
	t.Helper()
	r, err := src.Open(context.Background(), split, pos, testEnv)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var (
		recs []conformance.Record
		w    abi.Writer
	)
	for {
		w.Reset()
		_, err := r.Read(context.Background(), &w, 3)
		for rd := abi.NewReader(w.Bytes()); rd.Next(); {
			e := rd.Entry()
			recs = append(recs, conformance.Record{Key: string(e.Key), Value: string(e.Value), Timestamp: e.Timestamp})
		}
		if errors.Is(err, io.EOF) {
			return recs, r.Position(), nil
		}
		if err != nil {
			return recs, r.Position(), err
		}
	}
}

func TestSourceConformanceLines(t *testing.T) {
	dir := t.TempDir()
	var many strings.Builder
	for i := range 300 {
		fmt.Fprintf(&many, "line %d of many\n", i)
	}
	writeFiles(t, dir, map[string]string{
		"in/a.txt":     "alpha\nbeta\r\n\ngamma", // CRLF, an empty line, no final newline
		"in/b.txt":     many.String(),
		"in/empty.txt": "",
		"in/.hidden":   "not read\n",
	})
	conformance.TestSource(t, func(t *testing.T) runtime.Source { return mustSource(t, `{"path":"in"}`, dir) })
}

func TestSourceConformanceJSONL(t *testing.T) {
	dir := t.TempDir()
	var many strings.Builder
	for i := range 250 {
		fmt.Fprintf(&many, `{"id":%d,"ts":%d,"name":"n%d"}`+"\n", i%17, 1_700_000_000_000+i, i)
	}
	writeFiles(t, dir, map[string]string{
		"a.jsonl": many.String(),
		"b.jsonl": `{"id":"x","ts":"2025-01-01T00:00:00.5Z"}` + "\r\n\n" + `{"ts":1,"id":2.0}`,
	})
	conformance.TestSource(t, func(t *testing.T) runtime.Source {
		return mustSource(t, `{"path":"*.jsonl","format":"jsonl","keyField":"id","timestampField":"ts"}`, dir)
	})
}

func TestSourceOptionErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown option", `{"path":"x","colour":1}`, []string{`unknown field "colour"`}},
		{"path missing", `{}`, []string{"option path: required"}},
		{"empty options", ``, []string{"option path: required"}},
		{"bad format", `{"path":"x","format":"xml"}`, []string{`option format: "xml" is not "lines" or "jsonl"`}},
		{"keyField with lines", `{"path":"x","keyField":"id"}`, []string{`option keyField: only for format "jsonl"`}},
		{"timestampField with lines", `{"path":"x","format":"lines","timestampField":"ts"}`, []string{`option timestampField: only for format "jsonl"`}},
		{"negative maxLineBytes", `{"path":"x","maxLineBytes":-1}`, []string{"option maxLineBytes: -1 is outside 1..16777216"}},
		{"huge maxLineBytes", `{"path":"x","maxLineBytes":16777217}`, []string{"option maxLineBytes: 16777217 is outside"}},
		{"maxLineBytes a string", `{"path":"x","maxLineBytes":"1MiB"}`, []string{"option maxLineBytes: got a JSON string, want an integer"}},
		{"maxLineBytes a fraction", `{"path":"x","maxLineBytes":1.5}`, []string{"option maxLineBytes: got a JSON number 1.5, want an integer"}},
		{"path a number", `{"path":3}`, []string{"option path: got a JSON number, want a string"}},
		{"bad glob", `{"path":"in/[a"}`, []string{`option path: "in/[a" is not a valid glob pattern`}},
		{"trailing data", `{"path":"x"} {}`, []string{"unexpected data after the JSON object"}},
		{"not an object", `["x"]`, []string{"file source: options:"}},
		{"two errors", `{"format":"xml"}`, []string{"option path: required", "option format:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSource(json.RawMessage(tt.opts), t.TempDir())
			if err == nil {
				t.Fatalf("NewSource(%s) succeeded, want an error with %q", tt.opts, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewSource(%s) error %q does not contain %q", tt.opts, err, w)
				}
			}
		})
	}
}

func TestSourceSplits(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"data/b.log":     "b\n",
		"data/a.log":     "a\n",
		"data/c.txt":     "c\n",
		"data/.hidden":   "h\n",
		"data/sub/d.log": "d\n",
		"other/e.log":    "e\n",
		"emptydir/.keep": "",
	})
	tests := []struct {
		name, path string
		want       []string
		wantErr    string
	}{
		{name: "directory", path: "data", want: []string{"data/a.log", "data/b.log", "data/c.txt"}},
		{name: "glob", path: "data/*.log", want: []string{"data/a.log", "data/b.log"}},
		{name: "glob across directories", path: "*/*.log", want: []string{"data/a.log", "data/b.log", "other/e.log"}},
		{name: "one file", path: "data/c.txt", want: []string{"data/c.txt"}},
		{name: "absolute path", path: filepath.Join(dir, "other", "e.log"), want: []string{"other/e.log"}},
		{name: "glob matching nothing", path: "data/*.csv", wantErr: "no files match"},
		{name: "glob matching only a directory", path: "data/su*", wantErr: "no files match"},
		{name: "directory without files", path: "emptydir", wantErr: "has no files"},
		{name: "missing file", path: "data/nope.txt", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, _ := json.Marshal(SourceOptions{Path: tt.path})
			src := mustSource(t, string(opts), dir)
			got, err := src.Splits(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Splits = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Splits: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Splits = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSourceLines(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"empty file", "", nil},
		{"one line without newline", "a", []string{"a"}},
		{"trailing newline", "a\nb\n", []string{"a", "b"}},
		{"empty lines are records", "\n\na\n\n", []string{"", "", "a", ""}},
		{"CRLF endings are removed", "a\r\nb\r\n", []string{"a", "b"}},
		{"lone CR is kept", "a\rb\nc\r", []string{"a\rb", "c\r"}},
		{"CRLF on the last line", "a\r\nb\r\n", []string{"a", "b"}},
		{"bytes are kept exactly", "\x00\xff é\t\n", []string{"\x00\xff é\t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"f": tt.data})
			recs, pos, err := readAll(t, mustSource(t, `{"path":"f"}`, dir), "f", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Value)
				if r.Key != "" || r.Timestamp != abi.NoTimestamp {
					t.Errorf("record %v has a key or timestamp; format lines sets neither", r)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
			if off := binary.BigEndian.Uint64(pos); off != uint64(len(tt.data)) {
				t.Errorf("position at the end has offset %d, want the file size %d", off, len(tt.data))
			}
		})
	}
}

func TestSourceJSONL(t *testing.T) {
	tests := []struct {
		name, line string
		key        string
		ts         int64
	}{
		{"string key and ms", `{"id":"abc","ts":1735689600000}`, "abc", 1735689600000},
		{"escaped key name and value", `{"i\u0064":"a\"b\u00e9","ts":0}`, `a"bé`, 0},
		{"integer key", `{"id":42,"ts":-5}`, "42", -5},
		{"negative zero key", `{"id":-0,"ts":1}`, "0", 1},
		{"float key with integral value", `{"id":1.0,"ts":1}`, "1", 1},
		{"exponent key", `{"id":1e3,"ts":1}`, "1000", 1},
		{"fraction key", `{"id":0.5,"ts":1}`, "0.5", 1},
		{"small fraction key", `{"id":1.5e-7,"ts":1}`, "1.5e-07", 1},
		{"big integer key kept", `{"id":123456789012345678901234,"ts":1}`, "123456789012345678901234", 1},
		{"big float key", `{"id":1e300,"ts":1}`, "1e+300", 1},
		{"RFC 3339 timestamp", `{"id":"k","ts":"2025-01-01T00:00:00Z"}`, "k", 1735689600000},
		{"RFC 3339 with fraction and zone", `{"id":"k","ts":"2025-01-01T01:00:00.1234+01:00"}`, "k", 1735689600123},
		{"float ms timestamp", `{"id":"k","ts":1.7356896e12}`, "k", 1735689600000},
		{"fields in nested objects are not top level", `{"x":{"id":"no","ts":2},"id":"yes","ts":3}`, "yes", 3},
		{"last duplicate wins", `{"id":"first","id":"last","ts":1}`, "last", 1},
		{"whitespace around", " \t{ \"id\" : \"k\" , \"ts\" : 7 } ", "k", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"f.jsonl": tt.line + "\n"})
			src := mustSource(t, `{"path":"f.jsonl","format":"jsonl","keyField":"id","timestampField":"ts"}`, dir)
			recs, _, err := readAll(t, src, "f.jsonl", nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []conformance.Record{{Key: tt.key, Value: tt.line, Timestamp: tt.ts}}
			if !slices.Equal(recs, want) {
				t.Errorf("records = %v, want %v", recs, want)
			}
		})
	}
}

func TestSourceJSONLWithoutFields(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.jsonl": "[1,2]\n\n  \t\n\"s\"\r\n{\"a\":1}\n"})
	recs, _, err := readAll(t, mustSource(t, `{"path":"f.jsonl","format":"jsonl"}`, dir), "f.jsonl", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []conformance.Record{
		{Value: "[1,2]", Timestamp: abi.NoTimestamp},
		{Value: `"s"`, Timestamp: abi.NoTimestamp},
		{Value: `{"a":1}`, Timestamp: abi.NoTimestamp},
	}
	if !slices.Equal(recs, want) {
		t.Errorf("records = %v, want %v (blank lines skipped, any JSON value accepted)", recs, want)
	}
}

func TestSourceJSONLErrors(t *testing.T) {
	const good = `{"id":"k","ts":1}` + "\n"
	tests := []struct {
		name, opts, bad string
		want            []string
	}{
		{"malformed", `"keyField":"id"`, `{"id":"k",}`, []string{"line 3 (byte 36): invalid JSON at column 11"}},
		{"malformed without fields", ``, `{"id"`, []string{"line 3 (byte 36): invalid JSON"}},
		{"trailing garbage", ``, `{"id":"k"} x`, []string{"line 3", "invalid JSON"}},
		{"not an object", `"keyField":"id"`, `["k"]`, []string{"line 3", "the line is an array, not an object"}},
		{"missing key", `"keyField":"id"`, `{"ts":1}`, []string{"line 3", `no key field "id"`}},
		{"boolean key", `"keyField":"id"`, `{"id":true}`, []string{`key field "id": is a boolean; want a string or a number`}},
		{"null key", `"keyField":"id"`, `{"id":null}`, []string{`key field "id": is null`}},
		{"object key", `"keyField":"id"`, `{"id":{"a":1}}`, []string{`key field "id": is an object`}},
		{"key out of range", `"keyField":"id"`, `{"id":1e400}`, []string{`key field "id": number 1e400 is out of range`}},
		{"missing timestamp", `"timestampField":"ts"`, `{"id":1}`, []string{`no timestamp field "ts"`}},
		{"timestamp not RFC 3339", `"timestampField":"ts"`, `{"ts":"yesterday"}`, []string{`timestamp field "ts": "yesterday" is not an RFC 3339 time`}},
		{"fractional ms", `"timestampField":"ts"`, `{"ts":1.5}`, []string{`timestamp field "ts": 1.5 is not a whole number of milliseconds`}},
		{"timestamp out of range", `"timestampField":"ts"`, `{"ts":9223372036854775808}`, []string{`timestamp field "ts": 9223372036854775808 is out of the range`}},
		{"timestamp is NoTimestamp", `"timestampField":"ts"`, `{"ts":-9223372036854775808}`, []string{"out of the range"}},
		{"timestamp boolean", `"timestampField":"ts"`, `{"ts":false}`, []string{`timestamp field "ts": is a boolean; want a number of milliseconds or an RFC 3339 string`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"d/f.jsonl": good + good + tt.bad + "\n" + good})
			opts := `{"path":"d/f.jsonl","format":"jsonl"` + map[bool]string{true: "," + tt.opts, false: ""}[tt.opts != ""] + `}`
			src := mustSource(t, opts, dir)
			recs, pos, err := readAll(t, src, "d/f.jsonl", nil)
			if err == nil {
				t.Fatalf("read %d records without error, want an error with %q", len(recs), tt.want)
			}
			for _, w := range append([]string{"d/f.jsonl"}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if len(recs) != 2 {
				t.Errorf("got %d records before the error, want the 2 good lines", len(recs))
			}
			if off := binary.BigEndian.Uint64(pos); off != 2*uint64(len(good)) {
				t.Errorf("position after the error has offset %d, want %d (before the bad line)", off, 2*len(good))
			}
		})
	}
}

// TestSourceLineNumbersAfterResume checks that a resumed split reports line
// numbers counted from the start of the file.
func TestSourceLineNumbersAfterResume(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.jsonl": "1\n2\n3\n4\nnope\n"})
	src := mustSource(t, `{"path":"f.jsonl","format":"jsonl"}`, dir)
	r, err := src.Open(context.Background(), "f.jsonl", nil, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	w.Reset()
	if n, err := r.Read(context.Background(), &w, 3); n != 3 || err != nil {
		t.Fatalf("Read = %d, %v; want 3, nil", n, err)
	}
	pos := r.Position()
	r.Close()
	_, _, err = readAll(t, src, "f.jsonl", pos)
	if err == nil || !strings.Contains(err.Error(), "line 5 (byte 8)") {
		t.Errorf("error after resuming at line 4 = %v; want one naming line 5 (byte 8)", err)
	}
}

func TestSourceErrorIsSticky(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.jsonl": "1\nbad\n3\n"})
	r, err := mustSource(t, `{"path":"f.jsonl","format":"jsonl"}`, dir).Open(context.Background(), "f.jsonl", nil, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var w abi.Writer
	w.Reset()
	n, err1 := r.Read(context.Background(), &w, 10)
	if n != 1 || err1 == nil {
		t.Fatalf("first Read = %d, %v; want 1 record and an error", n, err1)
	}
	w.Reset()
	n, err2 := r.Read(context.Background(), &w, 10)
	if n != 0 || err2 == nil || err2.Error() != err1.Error() {
		t.Errorf("second Read = %d, %v; want 0 and the same error %v", n, err2, err1)
	}
}

func TestSourceLongLines(t *testing.T) {
	long := strings.Repeat("x", 300<<10) // longer than the read buffer
	tests := []struct {
		name, data string
		max        int
		want       []string // values, or nil when wantErr is set
		wantErr    string
	}{
		{name: "exactly the limit", data: "0123456789\nab\n", max: 10, want: []string{"0123456789", "ab"}},
		{name: "exactly the limit without newline", data: "ab\n0123456789", max: 10, want: []string{"ab", "0123456789"}},
		{name: "CR counts", data: "ab\n0123456789\r\n", max: 10, wantErr: "line 2 at byte 3 is longer than maxLineBytes (10 bytes)"},
		{name: "one byte over", data: "ab\ncd\n0123456789A\n", max: 10, wantErr: "line 3 at byte 6 is longer than maxLineBytes (10 bytes)"},
		{name: "over without newline", data: "ab\n0123456789A", max: 10, wantErr: "line 2 at byte 3 is longer"},
		{name: "longer than the buffer", data: "a\n" + long + "\nb", max: 1 << 20, want: []string{"a", long, "b"}},
		{name: "longer than the buffer and the limit", data: "a\n" + long + long + long + long + "\nb", max: 1 << 20, wantErr: "line 2 at byte 2 is longer than maxLineBytes (1048576 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"f": tt.data})
			src := mustSource(t, fmt.Sprintf(`{"path":"f","maxLineBytes":%d}`, tt.max), dir)
			recs, _, err := readAll(t, src, "f", nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "f:") {
					t.Fatalf("error = %v, want one naming the file and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Value)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %d values, want %d (or they differ)", len(got), len(tt.want))
			}
		})
	}
}

func TestSourceOpenBadPosition(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "abc\ndef\n"})
	src := mustSource(t, `{"path":"f"}`, dir)
	pos := func(off, line uint64) []byte {
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, off), line)
	}
	tests := []struct {
		name    string
		pos     []byte
		wantErr string
	}{
		{"short", []byte{0, 1}, "position of 2 bytes, want 16"},
		{"past the end", pos(9, 2), "offset is past the end of the file (8 bytes)"},
		{"mid line", pos(2, 0), "offset is not at the start of a line"},
		{"negative", pos(1<<63, 0), "negative"},
		{"at a line start", pos(4, 1), ""},
		{"at the end", pos(8, 2), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := src.Open(context.Background(), "f", tt.pos, testEnv)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				r.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `split "f"`) {
				t.Errorf("Open error = %v, want one naming the split and %q", err, tt.wantErr)
			}
		})
	}
}
