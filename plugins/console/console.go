package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Formats.
const (
	formatValue    = "value"
	formatKeyValue = "keyvalue"
)

// Options are the options of the console sink in a job spec (see doc.go).
type Options struct {
	Format string `json:"format"`
}

// Sink prints records to an io.Writer. It is safe for concurrent use: writers
// of several subtasks may print at once.
type Sink struct {
	keyValue bool
	mu       sync.Mutex // serialises writes to out
	out      io.Writer
}

var _ runtime.Sink = (*Sink)(nil)

// NewSink returns a console sink that prints to os.Stdout; baseDir is unused.
func NewSink(opts json.RawMessage, baseDir string) (runtime.Sink, error) {
	return NewSinkTo(opts, os.Stdout)
}

// NewSinkTo returns a console sink that prints to out.
func NewSinkTo(opts json.RawMessage, out io.Writer) (*Sink, error) {
	var o Options
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("console sink: %w", err)
	}
	switch o.Format {
	case "", formatValue:
	case formatKeyValue:
	default:
		return nil, fmt.Errorf("console sink: option format: %q is not %q or %q", o.Format, formatValue, formatKeyValue)
	}
	return &Sink{keyValue: o.Format == formatKeyValue, out: out}, nil
}

// OpenWriter returns a writer that prints to the sink's output.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	return &writer{sink: s, subtask: info.Subtask}, nil
}

// Commit does nothing: records were printed by Write.
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	return nil
}

// Recover does nothing: printed lines cannot be taken back.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	return nil
}

type writer struct {
	sink    *Sink
	subtask int
	buf     []byte
}

// Write prints the records of batch, one line each, with one write to the
// output.
func (w *writer) Write(ctx context.Context, batch []byte) error {
	w.buf = w.buf[:0]
	r := abi.NewReader(batch)
	for r.Next() {
		e := r.Entry()
		if e.Kind != abi.KindRecord {
			return fmt.Errorf("console sink: subtask %d: batch entry %d has kind %s; a sink takes records only", w.subtask, r.Index(), e.Kind)
		}
		if w.sink.keyValue {
			w.buf = append(w.buf, e.Key...)
			w.buf = append(w.buf, '\t')
		}
		w.buf = append(w.buf, e.Value...)
		w.buf = append(w.buf, '\n')
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("console sink: subtask %d: %w", w.subtask, err)
	}
	if len(w.buf) == 0 {
		return nil
	}
	w.sink.mu.Lock()
	_, err := w.sink.out.Write(w.buf)
	w.sink.mu.Unlock()
	if err != nil {
		return fmt.Errorf("console sink: subtask %d: %w", w.subtask, err)
	}
	return nil
}

// PreCommit returns nil: there is nothing to commit.
func (w *writer) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	return nil, nil
}

// Close does nothing.
func (w *writer) Close() error { return nil }
