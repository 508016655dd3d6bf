// Package weirtest runs Weir operators in unit tests, natively (no Wasm): a
// Harness drives one operator instance over an in-memory host whose keyed
// state, timers and outputs behave like the runtime's.
//
// The test feeds records (Process), moves event time (AdvanceWatermark) and
// processing time (AdvanceProcessingTime), which fire due timers in time
// order, and reads what the operator emitted per port (Output). State is
// scoped exactly as in the runtime — per state name, record key and user key,
// with user keys ordered for scans — and limits and status codes follow ABI
// §5–§9, so an operator that passes here sees the same answers from the
// runtime. A batch that fails is rolled back, as the runtime discards a failed
// call's state writes, timers and emits.
//
//	func TestCount(t *testing.T) {
//		h := weirtest.New(t, wordcount.Count, nil)
//		h.Process(weir.Record{Key: []byte("go"), Value: []byte("go")})
//		h.Process(weir.Record{Key: []byte("go"), Value: []byte("go")})
//		if got := h.Output(0); string(got[1].Value) != "2" {
//			t.Fatalf("count = %s, want 2", got[1].Value)
//		}
//	}
package weirtest
