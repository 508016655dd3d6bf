package conformance_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/internal/conformance/call"
	"github.com/weirstream/weir/sdk/go/internal/conformance/runningsum"
	"github.com/weirstream/weir/sdk/go/internal/conformance/sideoutput"
	"github.com/weirstream/weir/sdk/go/internal/conformance/timers"
	"github.com/weirstream/weir/sdk/go/internal/conformance/tumblecount"
	"github.com/weirstream/weir/sdk/go/internal/conformance/upper"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// vectorDir holds the behaviour vectors, in the host repository, relative to
// this package (sdk/go/internal/conformance).
const vectorDir = "../../../../abi/testdata/operators"

var operators = map[string]weir.Operator{
	"upper":       upper.Operator,
	"runningsum":  runningsum.Operator,
	"tumblecount": tumblecount.Operator,
	"timers":      timers.Operator,
	"sideoutput":  sideoutput.Operator,
	"call":        call.Operator,
}

type vector struct {
	Operator  string                `json:"operator"`
	Keyed     bool                  `json:"keyed"`
	Config    string                `json:"config"`
	Endpoints map[string][]endpoint `json:"endpoints"`
	Steps     []step                `json:"steps"`
}

// endpoint is one answer of an endpoint of a vector, to the calls with its
// request (abi/testdata/operators/README.md, endpoints).
type endpoint struct {
	Request     string `json:"request"`
	Key         string `json:"key"`
	Status      int    `json:"status"`
	Body        string `json:"body"`
	Unavailable bool   `json:"unavailable"`
}

// callMade is a call an endpoint received.
type callMade struct {
	Endpoint string `json:"endpoint"`
	Request  string `json:"request"`
	Key      string `json:"key"`
}

type step struct {
	Note                  string              `json:"note"`
	Process               *[]record           `json:"process"`
	AdvanceWatermark      *int64              `json:"advanceWatermark"`
	AdvanceProcessingTime *int64              `json:"advanceProcessingTime"`
	Restart               bool                `json:"restart"`
	Expect                map[string][]record `json:"expect"`
	ExpectCalls           []callMade          `json:"expectCalls"`
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

// TestVectors runs every behaviour vector of abi/testdata/operators through the
// Go reference operators, natively, with the harness rules of its README.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(operators) {
		t.Fatalf("found %d vector files in %s, want one per operator (%d)", len(files), vectorDir, len(operators))
	}
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
			op, ok := operators[v.Operator]
			if !ok {
				t.Fatalf("%s: no Go reference operator %q", f, v.Operator)
			}
			var opts []weirtest.Option
			if !v.Keyed {
				opts = append(opts, weirtest.Unkeyed())
			}
			var calls []callMade
			for name, answers := range v.Endpoints {
				opts = append(opts, weirtest.WithEndpoint(name, func(request, key []byte) (weir.Response, error) {
					calls = append(calls, callMade{Endpoint: name, Request: string(request), Key: string(key)})
					return answer(t, name, answers, request, key)
				}))
			}
			h := weirtest.New(t, op, []byte(v.Config), opts...)
			for i, s := range v.Steps {
				calls = calls[:0]
				runStep(t, h, i, s)
				if !slices.Equal(calls, s.ExpectCalls) {
					t.Errorf("step %d (%s): the endpoints received calls %+v, want %+v", i, s.Note, calls, s.ExpectCalls)
				}
			}
		})
	}
}

// answer is endpoint name's answer to a call (README: harness rules): the
// first of answers with the call's request, whose key must be the call's.
func answer(t *testing.T, name string, answers []endpoint, request, key []byte) (weir.Response, error) {
	for _, a := range answers {
		switch {
		case a.Request != string(request):
			continue
		case a.Key != string(key):
			t.Errorf("endpoint %q: request %q with idempotency key %q, want %q", name, request, key, a.Key)
		case a.Unavailable:
			return weir.Response{}, errors.New("no response (the vector's endpoint is unavailable)")
		}
		return weir.Response{Status: a.Status, Body: []byte(a.Body)}, nil
	}
	t.Errorf("endpoint %q: request %q (idempotency key %q) that the vector does not answer", name, request, key)
	return weir.Response{}, errors.New("no answer in the vector")
}

func runStep(t *testing.T, h *weirtest.Harness, i int, s step) {
	t.Helper()
	h.ClearOutput()
	var err error
	switch {
	case s.Restart:
		h.Restart()
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
		var be *weir.BatchError
		if !errors.As(err, &be) {
			t.Fatalf("step %d (%s): got error %v, want a batch failing with code %d at entry %d", i, s.Note, err, s.ExpectError.Code, s.ExpectError.Entry)
		}
		if be.Code != s.ExpectError.Code || be.Entry != s.ExpectError.Entry {
			t.Fatalf("step %d (%s): batch failed with code %d at entry %d (%v), want code %d at entry %d", i, s.Note, be.Code, be.Entry, err, s.ExpectError.Code, s.ExpectError.Entry)
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
		got := h.Output(port)
		if !slices.EqualFunc(got, want, weir.Record.Equal) {
			t.Errorf("step %d (%s): port %d got\n%swant\n%s", i, s.Note, port, weirtest.FormatRecords(got), weirtest.FormatRecords(want))
		}
	}
	slices.Sort(wantPorts)
	if got := h.Ports(); !slices.Equal(got, wantPorts) {
		t.Errorf("step %d (%s): output on ports %v, want %v", i, s.Note, got, wantPorts)
	}
}
