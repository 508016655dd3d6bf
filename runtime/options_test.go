package runtime_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
)

func TestDecodeOptions(t *testing.T) {
	type opts struct {
		Path  string `json:"path"`
		Count uint64 `json:"count"`
		Rate  float64
	}
	tests := []struct {
		name, in, err string
	}{
		{"empty", "", ""},
		{"null", " null ", ""},
		{"fields", `{"path": "x", "count": 3}`, ""},
		{"unknown", `{"paht": "x"}`, `unknown field "paht"`},
		{"type", `{"count": -1}`, "option count: got a JSON number -1, want a non-negative integer"},
		{"string for number", `{"path": 5}`, "option path: got a JSON number, want a string"},
		{"trailing", `{} {}`, "unexpected data after the JSON object"},
		{"not an object", `[1]`, "options:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o opts
			err := runtime.DecodeOptions(json.RawMessage(tt.in), &o)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("got %v, want %q", err, tt.err)
			}
		})
	}
}
