package discard

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
)

func TestDiscard(t *testing.T) {
	for _, ok := range []string{"", "{}", " null "} {
		if _, err := NewSink(json.RawMessage(ok), ""); err != nil {
			t.Errorf("options %q: %v", ok, err)
		}
	}
	if _, err := NewSink(json.RawMessage(`{"path": "x"}`), ""); err == nil || !strings.Contains(err.Error(), "no options") {
		t.Errorf("options with a field: %v", err)
	}
	s, _ := NewSink(nil, "")
	w, err := s.OpenWriter(context.Background(), runtime.SinkInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if c, err := w.PreCommit(context.Background(), 1); c != nil || err != nil {
		t.Fatalf("PreCommit = %q, %v", c, err)
	}
}
