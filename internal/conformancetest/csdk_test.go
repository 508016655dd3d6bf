package conformancetest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// The tests of this file check the helpers of the C SDK (sdk/c/weir.h) that
// the reference operators do not reach, through its test guest
// sdk/c/testdata/sdkguest.c in the real host.

const cSDKGuest = "../../sdk/c/testdata/sdkguest.c"

// cSDK drives the C SDK's test guest with config.
func cSDK(t *testing.T, config string) *weirtest.Harness {
	t.Helper()
	return guestHarness(t, host.Config{Logger: quietLogger}, "c-sdkguest", wasmbuild.MustC(t, cSDKGuest),
		runtime.OperatorInfo{Name: "sdkguest", Keyed: true, Config: []byte(config)})
}

// command runs one command record and returns the value it emitted.
func command(t *testing.T, h *weirtest.Harness, cmd string) string {
	t.Helper()
	h.ClearOutput()
	h.Process(weir.Record{Key: []byte("k"), Value: []byte(cmd), Timestamp: 1, TrackingID: 1})
	out := h.Output(0)
	if len(out) != 1 {
		t.Fatalf("%s: emitted %d records, want 1", cmd, len(out))
	}
	return string(out[0].Value)
}

// TestCNumbers checks weir_parse_i64, weir_parse_u64, weir_format_i64 and
// weir_format_u64 against Go's strconv, whose rules the reference operators
// of every language follow.
func TestCNumbers(t *testing.T) {
	h := cSDK(t, "")
	inputs := []string{
		"0", "-0", "+0", "7", "-7", "+7", "007", "-007", "", "+", "-", "--1", "+-1", " 1", "1 ", "1_000", "0x10", "1e3",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "99999999999999999999", "-99999999999999999999",
		"123456789012345678901234567890", "١", "12a",
	}
	for _, in := range inputs {
		t.Run(strconv.Quote(in), func(t *testing.T) {
			want := "err"
			if v, err := strconv.ParseInt(in, 10, 64); err == nil {
				want = "ok " + strconv.FormatInt(v, 10)
			}
			if got := command(t, h, "i64:"+in); got != want {
				t.Errorf("weir_parse_i64(%q): got %q, want %q (strconv.ParseInt)", in, got, want)
			}
			want = "err"
			if v, err := strconv.ParseUint(in, 10, 64); err == nil {
				want = "ok " + strconv.FormatUint(v, 10)
			}
			if got := command(t, h, "u64:"+in); got != want {
				t.Errorf("weir_parse_u64(%q): got %q, want %q (strconv.ParseUint)", in, got, want)
			}
		})
	}
}

// TestCAllocator checks weir_alloc, weir_free and weir_realloc: blocks of
// sizes from 1 byte to 1 MiB keep their contents while others are freed and
// reallocated, and freed blocks are reused, so that running the same
// allocations again does not grow the heap. (The first round is a warm-up:
// the buffers the SDK keeps, such as the output buffer of port 0, are
// allocated after it.)
func TestCAllocator(t *testing.T) {
	h := cSDK(t, "")
	command(t, h, "alloc:120")
	steady := command(t, h, "alloc:120")
	top, ok := strings.CutPrefix(steady, "ok ")
	if !ok {
		t.Fatalf("alloc: got %q", steady)
	}
	for round := range 3 {
		if got := command(t, h, "alloc:120"); got != steady {
			t.Fatalf("round %d: got %q, want %q: the heap grew although every block of the round before was freed", round, got, steady)
		}
	}
	if n, err := strconv.ParseUint(top, 10, 32); err != nil || n < 1<<20 {
		t.Fatalf("heap top %q: want a number past the 1 MiB blocks", top)
	}
}

// TestCStateRead checks that weir_state_read grows its buffer for a value
// larger than it (state_get reports the size, ABI §5), up to the largest
// value ABI §9 allows.
func TestCStateRead(t *testing.T) {
	h := cSDK(t, "")
	for _, n := range []int{0, 1, 4096, 70_000, abi.MaxValueBytes} {
		h.Process(weir.Record{Key: []byte("k"), Value: fmt.Appendf(nil, "put:%d", n)})
		var sum uint64
		for i := range n {
			sum = sum*31 + uint64(i%251)
		}
		if got, want := command(t, h, "get"), fmt.Sprintf("%d %d", n, sum); got != want {
			t.Errorf("a value of %d bytes read back as %q, want %q", n, got, want)
		}
	}
}

// TestCStateScan ranges over a map state larger than weir_state_scan's first
// buffer (4 KiB), with one pair (300 KB) larger than several doublings of
// it, through the real state_scan: chunks, continuation after the last key,
// and growth on BUFFER_TOO_SMALL (ABI §5.1).
func TestCStateScan(t *testing.T) {
	h := cSDK(t, "")
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("fill")})
	if got, want := command(t, h, "range"), "300 pairs, 599000 bytes"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestCFlush emits more than WEIR_FLUSH_BYTES (1 MiB) in one batch, so that
// weir_emit hands a port's buffer to the host before the end of the batch,
// and checks that every record arrives once, in order.
func TestCFlush(t *testing.T) {
	h := cSDK(t, "")
	const n = 3000 // ~3 MiB of records
	h.Process(weir.Record{Key: []byte("k"), Value: fmt.Appendf(nil, "flood:%d", n), Timestamp: 5, TrackingID: 6})
	out := h.Output(0)
	if len(out) != n {
		t.Fatalf("got %d records, want %d", len(out), n)
	}
	for i, r := range out {
		idx, _, _ := strings.Cut(string(r.Value), ".")
		if idx != strconv.Itoa(i) || len(r.Value) != 1000 || r.Timestamp != 5 || r.TrackingID != 6 {
			t.Fatalf("record %d: value %.20q... (%d bytes), timestamp %d, tracking id %d", i, r.Value, len(r.Value), r.Timestamp, r.TrackingID)
		}
	}
}

// TestCEmitPort checks that weir_emit refuses a port outside 0..255 with
// BAD_ARGUMENT (ABI §5), failing the batch at that entry, and that ports up
// to 255 work.
func TestCEmitPort(t *testing.T) {
	h := cSDK(t, "")
	h.Process(weir.Record{Key: []byte("k"), Value: []byte("port:255")})
	if out := h.Output(255); len(out) != 1 {
		t.Fatalf("port 255 got %d records, want 1", len(out))
	}
	err := h.TryProcess(weir.Record{Key: []byte("a"), Value: []byte("port:1")}, weir.Record{Key: []byte("b"), Value: []byte("port:256")})
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) || oe.Code != abi.BadArgument || oe.Entry != 1 || !strings.Contains(err.Error(), "port outside 0..255") {
		t.Fatalf("got %v, want BAD_ARGUMENT at entry 1", err)
	}
}

// TestCInit checks that WEIR_INIT hands the configuration to the operator,
// also when it is empty (ABI §10: weir_v1_init(0, 0) without a reserve).
func TestCInit(t *testing.T) {
	for _, tc := range []struct{ name, config string }{
		{"empty", ""},
		{"json", `{"mode": "running", "limit": 3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := cSDK(t, tc.config)
			if got := command(t, h, "config"); got != tc.config {
				t.Fatalf("got %q, want %q", got, tc.config)
			}
		})
	}
}
