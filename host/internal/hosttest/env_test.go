package hosttest

import (
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
)

// batchOf returns a batch whose entry i has key keys[i].
func batchOf(keys ...string) []byte {
	var w abi.Writer
	w.Reset()
	for _, k := range keys {
		w.Append(abi.Entry{Key: []byte(k), Timestamp: abi.NoTimestamp})
	}
	return w.Detach()
}

// TestEnvScopesByEntryKey checks that state and timers belong to the key of
// the entry the call names, as the runtime scopes them (ABI §5).
func TestEnvScopesByEntryKey(t *testing.T) {
	e := NewEnv()
	e.Batch = batchOf("a", "b")
	for _, code := range []uint32{
		e.StatePut(0, []byte("s"), []byte("u1"), []byte("A1")),
		e.StatePut(1, []byte("s"), []byte("u1"), []byte("B1")),
		e.StatePut(0, []byte("s"), []byte("u2"), []byte("A2")),
		e.StatePut(0, []byte("o"), []byte("u1"), []byte("AO")),
		e.TimerSet(0, uint32(abi.KindEventTimer), 5),
		e.TimerSet(1, uint32(abi.KindEventTimer), 5),
		e.TimerDelete(1, uint32(abi.KindEventTimer), 5),
	} {
		if code != 0 {
			t.Fatalf("a call of the setup failed with status %d", code)
		}
	}
	if v, code := e.StateGet(1, []byte("s"), []byte("u1")); code != 0 || string(v) != "B1" {
		t.Errorf("get s/u1 of b = %q, %d; want B1, 0", v, code)
	}
	if _, code := e.StateGet(1, []byte("s"), []byte("u2")); code != uint32(abi.NotFound) {
		t.Errorf("get s/u2 of b: status %d, want NOT_FOUND: a's value leaked", code)
	}
	var scanned []string
	e.StateScan(0, []byte("s"), []byte("u"), func(uk, v []byte) bool {
		scanned = append(scanned, string(uk)+"="+string(v))
		return true
	})
	if got := strings.Join(scanned, " "); got != "u1=A1 u2=A2" {
		t.Errorf("scan s of a from u = %q, want u1=A1 u2=A2 (in order, a's only, s only)", got)
	}
	e.StateClear(0, []byte("s"))
	if _, code := e.StateGet(0, []byte("s"), []byte("u1")); code != uint32(abi.NotFound) {
		t.Errorf("s/u1 of a survived StateClear: status %d", code)
	}
	if v, _ := e.StateGet(0, []byte("o"), []byte("u1")); string(v) != "AO" {
		t.Errorf("StateClear of s removed state o: %q", v)
	}
	if v, _ := e.StateGet(1, []byte("s"), []byte("u1")); string(v) != "B1" {
		t.Errorf("StateClear for a removed b's state: %q", v)
	}
	want := TimerKey{Key: "a", Kind: uint32(abi.KindEventTimer), Time: 5}
	if len(e.Timers) != 1 || !e.Timers[want] {
		t.Errorf("timers %v, want only %v", e.Timers, want)
	}
}

// TestEnvFail checks that Fail fails state and timer calls without changing
// anything, and Emit only with FailEmits.
func TestEnvFail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failEmits bool
		wantEmit  uint32 // Emit's status
		wantEmits int    // batches in Emits after it
	}{
		{"state and timers", false, 0, 1},
		{"and emits", true, uint32(abi.Internal), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv()
			e.Batch = batchOf("a")
			e.Fail, e.FailEmits = uint32(abi.Internal), tc.failEmits
			if code := e.StatePut(0, []byte("s"), nil, []byte("v")); code != e.Fail || len(e.State) != 0 {
				t.Errorf("put: status %d, state %v; want INTERNAL and no state", code, e.State)
			}
			if _, code := e.StateGet(0, []byte("s"), nil); code != e.Fail {
				t.Errorf("get: status %d, want INTERNAL", code)
			}
			if code := e.TimerSet(0, uint32(abi.KindEventTimer), 1); code != e.Fail || len(e.Timers) != 0 {
				t.Errorf("timer: status %d, timers %v; want INTERNAL and no timer", code, e.Timers)
			}
			code := e.Emit(2, e.Batch)
			if code != tc.wantEmit {
				t.Errorf("emit: status %d, want %d", code, tc.wantEmit)
			}
			if len(e.Emits) != tc.wantEmits {
				t.Errorf("%d batches emitted, want %d", len(e.Emits), tc.wantEmits)
			}
		})
	}
}

// TestEnvEmitCopies checks that Emit keeps a copy of the batch, which the
// caller may reuse.
func TestEnvEmitCopies(t *testing.T) {
	e := NewEnv()
	batch := batchOf("a")
	e.Emit(3, batch)
	clear(batch)
	if len(e.Emits) != 1 || e.Emits[0].Port != 3 || abi.Count(e.Emits[0].Batch) != 1 {
		t.Fatalf("emits %v, want one batch of one entry on port 3", e.Emits)
	}
}
