package host

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// TestOperatorErrorString checks the rendering of runtime.OperatorError
// (runtime/operror.go; tested here because this package produces them).
func TestOperatorErrorString(t *testing.T) {
	cause := errors.New("weir_v1_process trapped: wasm error: unreachable")
	tests := []struct {
		name string
		err  runtime.OperatorError
		want string
	}{
		{"everything", runtime.OperatorError{Operator: "count", Subtask: 1, Entry: 17, Key: []byte("foo"),
			Timestamp: 1735689600000, TrackingID: 0x1f, Position: "source nexmark split 3 offset 991", Err: cause},
			`operator "count" subtask 1: entry 17 (key "foo", timestamp 2025-01-01T00:00:00.000Z, tracking id 0x1f) from source nexmark split 3 offset 991: weir_v1_process trapped: wasm error: unreachable`},
		{"module", runtime.OperatorError{Operator: "count", Module: "count.wasm", Subtask: 2, Entry: -1, Err: cause},
			`operator "count" (module "count.wasm") subtask 2: weir_v1_process trapped: wasm error: unreachable`},
		{"entry unknown", runtime.OperatorError{Operator: "count", Entry: -1, Err: cause},
			`operator "count" subtask 0: weir_v1_process trapped: wasm error: unreachable`},
		{"no timestamp, no tracking id, empty key", runtime.OperatorError{Operator: "o", Entry: 0, Key: nil, Timestamp: abi.NoTimestamp, Err: cause},
			`operator "o" subtask 0: entry 0 (key ""): weir_v1_process trapped: wasm error: unreachable`},
		{"binary key", runtime.OperatorError{Operator: "o", Entry: 2, Key: []byte{0, 'a', 0xff}, Timestamp: -1, Code: 101},
			`operator "o" subtask 0: entry 2 (key "\x00a\xff", timestamp 1969-12-31T23:59:59.999Z): status GUEST_ERROR(101)`},
		{"long key", runtime.OperatorError{Operator: "o", Entry: 1, Key: []byte(strings.Repeat("k", 100)), Timestamp: abi.NoTimestamp, Err: cause},
			`operator "o" subtask 0: entry 1 (key "` + strings.Repeat("k", 64) + `"... (100 bytes)): weir_v1_process`},
		{"nothing known", runtime.OperatorError{Operator: "o", Entry: -1}, `operator "o" subtask 0: failed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	oe := &runtime.OperatorError{Entry: -1, Err: cause}
	if !errors.Is(oe, cause) {
		t.Error("OperatorError does not unwrap to its Err")
	}
}
