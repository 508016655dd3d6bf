package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// committedLines returns the lines of every file in dir (not in
// subdirectories): the committed output of a file sink.
func committedLines(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

func TestSinkConformance(t *testing.T) {
	root := t.TempDir()
	var mu sync.Mutex
	dirs := map[string]string{} // subtest name -> output directory
	dirOf := func(t *testing.T) string {
		mu.Lock()
		defer mu.Unlock()
		d, ok := dirs[t.Name()]
		if !ok {
			d = filepath.Join(root, fmt.Sprint(len(dirs)))
			dirs[t.Name()] = d
		}
		return d
	}
	conformance.TestSink(t,
		func(t *testing.T) runtime.Sink {
			s, err := NewSink(json.RawMessage(fmt.Sprintf(`{"path":%q}`, dirOf(t))), "")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		func(t *testing.T) []string { return committedLines(t, dirOf(t)) },
		conformance.SinkOptions{RollsBack: true},
	)
}

func TestSinkOptionErrors(t *testing.T) {
	tests := []struct {
		name, opts string
		want       []string
	}{
		{"unknown option", `{"path":"out","mode":"append"}`, []string{`unknown field "mode"`}},
		{"path missing", `{}`, []string{"file sink: option path: required"}},
		{"bad format", `{"path":"out","format":"csv"}`, []string{`option format: "csv" is not "value", "keyvalue" or "json"`}},
		{"prefix with slash", `{"path":"out","prefix":"a/b"}`, []string{`option prefix: "a/b" has '/'`}},
		{"hidden prefix", `{"path":"out","prefix":".x"}`, []string{`option prefix: ".x" starts with '.'`}},
		{"long prefix", `{"path":"out","prefix":"` + strings.Repeat("p", 101) + `"}`, []string{"is longer than 100 bytes"}},
		{"prefix a number", `{"path":"out","prefix":7}`, []string{"option prefix: got a JSON number, want a string"}},
		{"two errors", `{"format":"csv"}`, []string{"option path: required", "option format:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSink(json.RawMessage(tt.opts), t.TempDir())
			if err == nil {
				t.Fatalf("NewSink(%s) succeeded, want an error with %q", tt.opts, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("NewSink(%s) error %q does not contain %q", tt.opts, err, w)
				}
			}
		})
	}
}

// sinkOf returns a file sink over dir with the given extra options.
func sinkOf(t *testing.T, dir, extra string) *Sink {
	t.Helper()
	opts := fmt.Sprintf(`{"path":%q%s}`, dir, extra)
	s, err := NewSink(json.RawMessage(opts), "")
	if err != nil {
		t.Fatalf("NewSink(%s): %v", opts, err)
	}
	return s.(*Sink)
}

func writerOf(t *testing.T, s runtime.Sink, subtask int) runtime.SinkWriter {
	t.Helper()
	w, err := s.OpenWriter(context.Background(), runtime.SinkInfo{Job: "j", Name: "out", Subtask: subtask, Parallelism: subtask + 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func batchOf(entries ...abi.Entry) []byte {
	var w abi.Writer
	w.Reset()
	for _, e := range entries {
		w.Append(e)
	}
	return w.Bytes()
}

// commitAll pre-commits w at ckpt and commits the committable.
func commitAll(t *testing.T, s runtime.Sink, w runtime.SinkWriter, ckpt int64) []byte {
	t.Helper()
	c, err := w.PreCommit(context.Background(), ckpt)
	if err != nil {
		t.Fatalf("PreCommit(%d): %v", ckpt, err)
	}
	if err := s.Commit(context.Background(), ckpt, [][]byte{c}); err != nil {
		t.Fatalf("Commit(%d): %v", ckpt, err)
	}
	return c
}

func TestSinkFormats(t *testing.T) {
	entries := []abi.Entry{
		{Key: []byte("k1"), Value: []byte("plain"), Timestamp: 1735689600000},
		{Key: nil, Value: []byte(`quote " back \ tab	nl
cr` + "\r\x01"), Timestamp: abi.NoTimestamp},
		{Key: []byte{0xff, 0x00}, Value: []byte("é"), Timestamp: -1},
		{Key: []byte("k4"), Value: []byte{0xc3}, Timestamp: 0},
	}
	tests := []struct {
		name, format string
		entries      []abi.Entry
		want         string
	}{
		{"value", "value", []abi.Entry{entries[0], entries[2]}, "plain\né\n"},
		{"keyvalue", "keyvalue", []abi.Entry{entries[0], {Value: []byte("v")}}, "k1\tplain\n\tv\n"},
		{"json", "json", entries, `{"key":"k1","value":"plain","timestamp":1735689600000}` + "\n" +
			`{"key":"","value":"quote \" back \\ tab\tnl\ncr\r\u0001","timestamp":null}` + "\n" +
			`{"key":"/wA=","value":"é","timestamp":-1,"keyBase64":true}` + "\n" +
			`{"key":"k4","value":"ww==","timestamp":0,"valueBase64":true}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := sinkOf(t, dir, fmt.Sprintf(`,"format":%q,"prefix":"out"`, tt.format))
			w := writerOf(t, s, 3)
			if err := w.Write(context.Background(), batchOf(tt.entries...)); err != nil {
				t.Fatal(err)
			}
			commitAll(t, s, w, 7)
			got, err := os.ReadFile(filepath.Join(dir, "out-0000000007-0003"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file =\n%s\nwant\n%s", got, tt.want)
			}
			if tt.format == "json" {
				for i, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
					var v struct {
						Key, Value             string
						Timestamp              *int64
						KeyBase64, ValueBase64 bool
					}
					if err := json.Unmarshal([]byte(line), &v); err != nil {
						t.Errorf("line %d is not valid JSON: %v", i+1, err)
					}
				}
			}
		})
	}
}

func TestSinkRejectsRecordsThatBreakLines(t *testing.T) {
	tests := []struct {
		name, format string
		e            abi.Entry
		want         string
	}{
		{"value with newline", "value", abi.Entry{Value: []byte("a\nb")}, "batch entry 1 (key \"\"): value has a newline, which format value cannot write; use format json"},
		{"keyvalue value with newline", "keyvalue", abi.Entry{Key: []byte("k"), Value: []byte("a\n")}, "value has a newline"},
		{"keyvalue key with tab", "keyvalue", abi.Entry{Key: []byte("k\t1"), Value: []byte("v")}, "key has a tab or newline"},
		{"timer entry", "value", abi.Entry{Kind: abi.KindEventTimer}, "batch entry 1 has kind event-time timer; a sink takes records only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sinkOf(t, t.TempDir(), fmt.Sprintf(`,"format":%q`, tt.format))
			w := writerOf(t, s, 0)
			err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("ok")}, tt.e))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error = %v, want one with %q", err, tt.want)
			}
			w.Close()
		})
	}
}

func TestSinkEmptyCheckpointMakesNoFile(t *testing.T) {
	dir := t.TempDir()
	s := sinkOf(t, dir, "")
	w := writerOf(t, s, 0)
	if err := w.Write(context.Background(), batchOf()); err != nil {
		t.Fatal(err)
	}
	c, err := w.PreCommit(context.Background(), 1)
	if c != nil || err != nil {
		t.Fatalf("PreCommit with nothing written = %s, %v; want nil, nil", c, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, InProgressDir))
	if len(entries) != 0 {
		t.Errorf("%s holds %d files after an empty checkpoint, want none", InProgressDir, len(entries))
	}
}

func TestSinkCommitErrors(t *testing.T) {
	dir := t.TempDir()
	s := sinkOf(t, dir, "")
	w := writerOf(t, s, 0)
	if err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	c, err := w.PreCommit(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var cm committable
	if err := json.Unmarshal(c, &cm); err != nil {
		t.Fatal(err)
	}
	other := sinkOf(t, dir, `,"prefix":"other"`)
	inprog := filepath.Join(dir, InProgressDir, cm.InProgress)

	tests := []struct {
		name  string
		sink  *Sink
		ckpt  int64
		c     []byte
		setup func()
		want  string
	}{
		{name: "later checkpoint", sink: s, ckpt: 1, c: c, want: "committable is of checkpoint 2, later than 1"},
		{name: "other prefix", sink: other, ckpt: 2, c: c, want: `is not one of this sink (prefix "other")`},
		{name: "garbage", sink: s, ckpt: 2, c: []byte(`{"x":1}`), want: "not a committable of the file sink"},
		{name: "path in name", sink: s, ckpt: 2, c: []byte(strings.Replace(string(c), cm.InProgress, "../"+cm.InProgress, 1)), want: "is not one of this sink"},
		{name: "changed file", sink: s, ckpt: 2, c: c, setup: func() {
			if err := os.WriteFile(inprog, []byte("vv\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: "has 3 bytes but had 2 at pre-commit"},
		{name: "lost", sink: s, ckpt: 2, c: c, setup: func() { os.Remove(inprog) }, want: "output lost: neither the in-progress file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			err := tt.sink.Commit(context.Background(), tt.ckpt, [][]byte{tt.c})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Commit error = %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestSinkRecoverLeavesOtherFilesAlone(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"README":                   "mine\n",
		"other-0000000009-0000":    "other prefix\n",
		"part-0000000009-0000.bak": "not a final name\n",
		"part-x-0000000009-0000":   "prefix part-x\n",
		InProgressDir + "/other-0000-0123456789abcdef-000000": "other prefix in progress\n",
		InProgressDir + "/notes":                              "not an in-progress name\n",
		"part-0000000001-0000":                                "checkpoint 1\n",
		"part-0000000002-0001":                                "checkpoint 2\n",
		InProgressDir + "/part-0001-0123456789abcdef-000003":  "pending\n",
	})
	if err := sinkOf(t, dir, "").Recover(context.Background(), 1, nil); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{
		".inprogress/notes", ".inprogress/other-0000-0123456789abcdef-000000",
		"README", "other-0000000009-0000", "part-0000000001-0000", "part-0000000009-0000.bak", "part-x-0000000009-0000",
	}
	if !slices.Equal(left, want) {
		t.Errorf("after Recover(1) the files are\n%q\nwant\n%q", left, want)
	}
}

func TestSinkWriterNamesAreUnique(t *testing.T) {
	dir := t.TempDir()
	s := sinkOf(t, dir, "")
	var names []string
	for range 2 { // two instances of subtask 0, as after a restart
		w := writerOf(t, s, 0)
		for ckpt := int64(1); ckpt <= 2; ckpt++ {
			if err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("v")})); err != nil {
				t.Fatal(err)
			}
			c, err := w.PreCommit(context.Background(), ckpt)
			if err != nil {
				t.Fatal(err)
			}
			var cm committable
			json.Unmarshal(c, &cm)
			names = append(names, cm.InProgress)
		}
	}
	if sorted := slices.Compact(slices.Sorted(slices.Values(names))); len(sorted) != len(names) {
		t.Errorf("in-progress names repeat: %q", names)
	}
}

func TestSinkCloseDeletesUncommitted(t *testing.T) {
	dir := t.TempDir()
	s := sinkOf(t, dir, "")
	w := writerOf(t, s, 0)
	if err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, InProgressDir))
	if len(entries) != 0 {
		t.Errorf("%s holds %d files after Close, want none", InProgressDir, len(entries))
	}
}

func TestSinkRelativePath(t *testing.T) {
	base := t.TempDir()
	s, err := NewSink(json.RawMessage(`{"path":"out/x"}`), base)
	if err != nil {
		t.Fatal(err)
	}
	w := writerOf(t, s, 0)
	if err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	commitAll(t, s, w, 1)
	if _, err := os.Stat(filepath.Join(base, "out", "x", "part-0000000001-0000")); err != nil {
		t.Errorf("the final file is not under the base directory: %v", err)
	}
}

// TestSinkCommitCarried commits, at checkpoint 3, a committable pre-committed
// at checkpoint 2: what the coordinator does when checkpoint 2 was abandoned
// after the sink pre-committed. The file keeps the name of checkpoint 2.
func TestSinkCommitCarried(t *testing.T) {
	dir := t.TempDir()
	s := sinkOf(t, dir, "")
	w := writerOf(t, s, 0)
	if err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	c, err := w.PreCommit(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var cm committable
	if err := json.Unmarshal(c, &cm); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent, also when carried
		if err := s.Commit(context.Background(), 3, [][]byte{c}); err != nil {
			t.Fatalf("commit at 3 of a committable of 2: %v", err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, cm.Final))
	if err != nil || string(got) != "v\n" {
		t.Fatalf("committed file %s = %q, %v; want %q", cm.Final, got, err, "v\n")
	}
	if err := s.Recover(context.Background(), 3, [][]byte{c}); err != nil {
		t.Fatalf("recover at 3 with a committable of 2: %v", err)
	}
}
