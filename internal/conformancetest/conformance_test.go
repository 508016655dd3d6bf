package conformancetest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// Paths relative to this package.
const (
	vectorDir   = "../../abi/testdata/operators"
	operatorDir = "../../sdk/go/internal/conformance"
)

type vector struct {
	Operator string `json:"operator"`
	Keyed    bool   `json:"keyed"`
	Config   string `json:"config"`
	Steps    []step `json:"steps"`
}

type step struct {
	Note                  string              `json:"note"`
	Process               *[]record           `json:"process"`
	AdvanceWatermark      *int64              `json:"advanceWatermark"`
	AdvanceProcessingTime *int64              `json:"advanceProcessingTime"`
	Expect                map[string][]record `json:"expect"`
	ExpectError           *struct {
		Entry int       `json:"entry"`
		Code  weir.Code `json:"code"`
	} `json:"expectError"`
}

type record struct {
	Key        *string     `json:"key"`
	KeyHex     *string     `json:"keyHex"`
	Value      *string     `json:"value"`
	ValueHex   *string     `json:"valueHex"`
	Headers    [][2]string `json:"headers"`
	Timestamp  *int64      `json:"timestamp"`
	TrackingID uint64      `json:"trackingId"`
}

func bytesOf(t *testing.T, text, hexText *string) []byte {
	t.Helper()
	switch {
	case text != nil && hexText != nil:
		t.Fatal("a byte field is given both as text and as hex")
	case hexText != nil:
		b, err := hex.DecodeString(*hexText)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case text != nil:
		return []byte(*text)
	}
	return nil
}

func (r record) record(t *testing.T) weir.Record {
	rec := weir.Record{Key: bytesOf(t, r.Key, r.KeyHex), Value: bytesOf(t, r.Value, r.ValueHex), Timestamp: weir.NoTimestamp, TrackingID: r.TrackingID}
	if r.Timestamp != nil {
		rec.Timestamp = *r.Timestamp
	}
	for _, h := range r.Headers {
		rec.Headers = weir.AppendHeader(rec.Headers, h[0], []byte(h[1]))
	}
	return rec
}

// wasmOperator adapts the host's operator to weirtest.Processor: the harness's
// in-memory host is a weir.NativeHost, whose method set is runtime.Env's.
type wasmOperator struct{ op runtime.Operator }

func (w wasmOperator) Process(batch []byte, h weir.NativeHost) error {
	return w.op.Process(context.Background(), batch, h)
}

// TestWasmVectors runs every behaviour vector against the Wasm build of its
// Go reference operator, in the real host, with the harness rules of
// abi/testdata/operators/README.md.
func TestWasmVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", vectorDir, err)
	}
	ctx := context.Background()
	engine, err := host.NewEngine(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close(ctx) })
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			wasm, err := os.ReadFile(wasmbuild.MustGo(t, filepath.Join(operatorDir, v.Operator, "wasm")))
			if err != nil {
				t.Fatal(err)
			}
			mod, err := engine.Load(ctx, v.Operator, wasm, host.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { mod.Close(ctx) })
			op, err := mod.NewOperator(ctx, runtime.OperatorInfo{Name: v.Operator, Keyed: v.Keyed, Config: []byte(v.Config)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { op.Close() })
			var opts []weirtest.Option
			if !v.Keyed {
				opts = append(opts, weirtest.Unkeyed())
			}
			h := weirtest.NewProcessor(t, wasmOperator{op}, opts...)
			for i, s := range v.Steps {
				runStep(t, h, i, s)
			}
		})
	}
}

func runStep(t *testing.T, h *weirtest.Harness, i int, s step) {
	t.Helper()
	h.ClearOutput()
	var err error
	switch {
	case s.Process != nil:
		recs := make([]weir.Record, len(*s.Process))
		for j, r := range *s.Process {
			recs[j] = r.record(t)
		}
		err = h.TryProcess(recs...)
	case s.AdvanceWatermark != nil:
		err = h.TryAdvanceWatermark(*s.AdvanceWatermark)
	case s.AdvanceProcessingTime != nil:
		err = h.TryAdvanceProcessingTime(*s.AdvanceProcessingTime)
	default:
		t.Fatalf("step %d: no action", i)
	}
	if s.ExpectError != nil {
		var oe *runtime.OperatorError
		if !errors.As(err, &oe) {
			t.Fatalf("step %d (%s): got error %v, want a batch failing with code %d at entry %d", i, s.Note, err, s.ExpectError.Code, s.ExpectError.Entry)
		}
		if uint32(oe.Code) != uint32(s.ExpectError.Code) || oe.Entry != s.ExpectError.Entry {
			t.Fatalf("step %d (%s): batch failed with code %d at entry %d (%v), want code %d at entry %d", i, s.Note, oe.Code, oe.Entry, err, s.ExpectError.Code, s.ExpectError.Entry)
		}
		if ps := h.Ports(); len(ps) != 0 {
			t.Fatalf("step %d (%s): a failed batch emitted to ports %v", i, s.Note, ps)
		}
		return
	}
	if err != nil {
		t.Fatalf("step %d (%s): %v", i, s.Note, err)
	}
	var wantPorts []int
	for p, recs := range s.Expect {
		port, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("step %d: port %q is not a number", i, p)
		}
		if len(recs) > 0 {
			wantPorts = append(wantPorts, port)
		}
		want := make([]weir.Record, len(recs))
		for j, r := range recs {
			want[j] = r.record(t)
		}
		if got := h.Output(port); !slices.EqualFunc(got, want, weir.Record.Equal) {
			t.Errorf("step %d (%s): port %d got\n%swant\n%s", i, s.Note, port, weirtest.FormatRecords(got), weirtest.FormatRecords(want))
		}
	}
	slices.Sort(wantPorts)
	if got := h.Ports(); !slices.Equal(got, wantPorts) {
		t.Errorf("step %d (%s): output on ports %v, want %v", i, s.Note, got, wantPorts)
	}
}
