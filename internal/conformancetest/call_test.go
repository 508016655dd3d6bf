package conformancetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// TestCallSDKs runs the call reference operator (abi/testdata/operators) of
// each SDK in the real host against the harness's journaling host (ABI §5.3): the
// response with its status, a response larger than each SDK's first buffer,
// a second call with the same idempotency key answered from the journal, and
// the codes of an unknown endpoint (NOT_FOUND) and one without a response
// (UNAVAILABLE).
func TestCallSDKs(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			calls := map[string]int{}
			orders := func(request, key []byte) (weir.Response, error) {
				calls[string(key)]++
				switch string(request) {
				case "down":
					return weir.Response{}, errors.New("no answer")
				case "big":
					return weir.Response{Status: 201, Body: []byte(big)}, nil
				}
				return weir.Response{Status: 200, Body: append([]byte("ok-"), request...)}, nil
			}
			h := guestHarness(t, host.Config{Logger: quietLogger}, lang+"-call", build(t, lang, "call"),
				runtime.OperatorInfo{Name: "call", Keyed: true}, weirtest.WithEndpoint("orders", orders))
			var recs []weir.Record
			for _, v := range []string{"orders:a", "orders:a", "orders:big", "nope:x", "orders:down", "orders:b"} {
				recs = append(recs, weir.Record{Key: []byte("k"), Value: []byte(v), Timestamp: 1})
			}
			h.Process(recs...)
			var got []string
			for _, r := range h.Output(0) {
				got = append(got, string(r.Value))
			}
			want := []string{"200 ok-a", "200 ok-a", "201 " + big, "code 1", "code 10", "200 ok-b"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("outputs (first 40 bytes each):\n%s\nwant\n%s", clip(got), clip(want))
			}
			if calls["k-a"] != 1 || calls["k-big"] != 1 || calls["k-b"] != 1 {
				t.Errorf("endpoint calls per key %v, want 1 each: a second call with a key is answered from the journal", calls)
			}
		})
	}
}

func clip(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s[:min(len(s), 40)])
		b.WriteByte('\n')
	}
	return b.String()
}
