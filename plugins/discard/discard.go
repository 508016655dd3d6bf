// Package discard is a sink that drops every record, like Flink's
// DiscardingSink: for benchmarks and for jobs whose output is only their
// state or their side effects. The composition root registers [NewSink] under
// the kind "discard". It has no options.
//
// Dropping is trivially exactly-once: there is nothing to commit.
package discard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/weirstream/weir/runtime"
)

// Sink drops records.
type Sink struct{}

var _ runtime.Sink = Sink{}

// NewSink returns a Sink; opts must be empty (or {}).
func NewSink(opts json.RawMessage, _ string) (runtime.Sink, error) {
	if t := bytes.TrimSpace(opts); len(t) != 0 && !bytes.Equal(t, []byte("{}")) && !bytes.Equal(t, []byte("null")) {
		return nil, fmt.Errorf("the discard sink has no options (got %s)", t)
	}
	return Sink{}, nil
}

// OpenWriter returns a writer that drops what it is given.
func (Sink) OpenWriter(context.Context, runtime.SinkInfo) (runtime.SinkWriter, error) {
	return writer{}, nil
}

// Commit does nothing.
func (Sink) Commit(context.Context, int64, [][]byte) error { return nil }

// Recover does nothing.
func (Sink) Recover(context.Context, int64, [][]byte) error { return nil }

type writer struct{}

func (writer) Write(context.Context, []byte) error              { return nil }
func (writer) PreCommit(context.Context, int64) ([]byte, error) { return nil, nil }
func (writer) Close() error                                     { return nil }
