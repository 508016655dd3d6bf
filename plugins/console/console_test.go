package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

func batchOf(entries ...abi.Entry) []byte {
	var w abi.Writer
	w.Reset()
	for _, e := range entries {
		w.Append(e)
	}
	return w.Bytes()
}

func TestFormats(t *testing.T) {
	entries := []abi.Entry{
		{Key: []byte("k1"), Value: []byte("v1"), Timestamp: 5},
		{Value: []byte("no key")},
		{Key: []byte("k3"), Value: nil},
	}
	tests := []struct {
		name, opts, want string
	}{
		{"default", ``, "v1\nno key\n\n"},
		{"null options", `null`, "v1\nno key\n\n"},
		{"value", `{"format":"value"}`, "v1\nno key\n\n"},
		{"keyvalue", `{"format":"keyvalue"}`, "k1\tv1\n\tno key\nk3\t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s, err := NewSinkTo(json.RawMessage(tt.opts), &out)
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.OpenWriter(context.Background(), runtime.SinkInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(context.Background(), batchOf(entries...)); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("printed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name, opts, want string
	}{
		{"unknown option", `{"format":"value","colour":true}`, `console sink: options: json: unknown field "colour"`},
		{"bad format", `{"format":"json"}`, `console sink: option format: "json" is not "value" or "keyvalue"`},
		{"format a number", `{"format":1}`, "console sink: option format: got a JSON number, want a string"},
		{"trailing data", `{} {}`, "unexpected data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSink(json.RawMessage(tt.opts), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSink(%s) error = %v, want one with %q", tt.opts, err, tt.want)
			}
		})
	}
}

// TestPrintsOnWrite checks that records are printed by Write, before any
// checkpoint, and that the transactional calls change nothing: the sink is
// not exactly once.
func TestPrintsOnWrite(t *testing.T) {
	var out bytes.Buffer
	s, _ := NewSinkTo(nil, &out)
	ctx := context.Background()
	w, _ := s.OpenWriter(ctx, runtime.SinkInfo{})
	if err := w.Write(ctx, batchOf(abi.Entry{Value: []byte("a")})); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\n" {
		t.Fatalf("after Write the output is %q, want %q", out.String(), "a\n")
	}
	c, err := w.PreCommit(ctx, 1)
	if c != nil || err != nil {
		t.Errorf("PreCommit = %q, %v; want nil, nil", c, err)
	}
	if err := s.Commit(ctx, 1, nil); err != nil {
		t.Error(err)
	}
	if err := s.Recover(ctx, 0, nil); err != nil {
		t.Error(err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if out.String() != "a\n" {
		t.Errorf("after PreCommit, Commit, Recover and Close the output is %q, want %q", out.String(), "a\n")
	}
}

func TestRejectsTimers(t *testing.T) {
	s, _ := NewSinkTo(nil, &bytes.Buffer{})
	w, _ := s.OpenWriter(context.Background(), runtime.SinkInfo{Subtask: 2})
	err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("a")}, abi.Entry{Kind: abi.KindEventTimer}))
	if err == nil || !strings.Contains(err.Error(), "subtask 2: batch entry 1 has kind event-time timer") {
		t.Errorf("Write of a timer entry: error = %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write(p []byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteError(t *testing.T) {
	s, _ := NewSinkTo(nil, failingWriter{})
	w, _ := s.OpenWriter(context.Background(), runtime.SinkInfo{Subtask: 1})
	err := w.Write(context.Background(), batchOf(abi.Entry{Value: []byte("a")}))
	if err == nil || !strings.Contains(err.Error(), "console sink: subtask 1: broken pipe") {
		t.Errorf("Write to a failing output: error = %v", err)
	}
}

// TestConcurrentWritersKeepLinesWhole runs several writers at once (run with
// -race) and checks that every line comes out whole.
func TestConcurrentWritersKeepLinesWhole(t *testing.T) {
	var out bytes.Buffer
	s, _ := NewSinkTo(nil, &out)
	const writers, batches, perBatch = 4, 50, 20
	var wg sync.WaitGroup
	var want []string
	for i := range writers {
		w, _ := s.OpenWriter(context.Background(), runtime.SinkInfo{Subtask: i, Parallelism: writers})
		var bs [][]byte
		for b := range batches {
			var es []abi.Entry
			for r := range perBatch {
				v := fmt.Sprintf("w%d-b%d-r%d-%s", i, b, r, strings.Repeat("x", 50))
				es = append(es, abi.Entry{Value: []byte(v)})
				want = append(want, v)
			}
			bs = append(bs, batchOf(es...))
		}
		wg.Go(func() {
			for _, b := range bs {
				if err := w.Write(context.Background(), b); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %d lines, want %d, or lines were torn", len(got), len(want))
	}
}
