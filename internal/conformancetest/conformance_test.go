package conformancetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

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

// call is a call an endpoint received.
type call struct {
	Endpoint string `json:"endpoint"`
	Request  string `json:"request"`
	Key      string `json:"key"`
}

type step struct {
	// differential steps (of edgeVectors) have no expectation: their result
	// is only compared across languages.
	differential          bool
	Note                  string              `json:"note"`
	Process               *[]record           `json:"process"`
	AdvanceWatermark      *int64              `json:"advanceWatermark"`
	AdvanceProcessingTime *int64              `json:"advanceProcessingTime"`
	Restart               bool                `json:"restart"`
	Expect                map[string][]record `json:"expect"`
	ExpectCalls           []call              `json:"expectCalls"`
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

// readVectors returns the behaviour vectors of abi/testdata/operators by
// file name (without .json), checking that there is one per operator.
func readVectors(t *testing.T) map[string]vector {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s: %v", vectorDir, err)
	}
	out := map[string]vector{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.Contains(operators, v.Operator) {
			t.Fatalf("%s: operator %q is not one of the suite's operators %v", f, v.Operator, operators)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = v
	}
	for _, op := range operators {
		if _, ok := out[op]; !ok {
			t.Fatalf("no vector %s.json in %s for operator %q", op, vectorDir, op)
		}
	}
	return out
}

// wasmOperator adapts the host's operator to weirtest.Processor: the harness's
// in-memory host is a weir.NativeHost, whose method set is runtime.Env's.
type wasmOperator struct{ op runtime.Operator }

func (w wasmOperator) Process(batch []byte, h weir.NativeHost) error {
	return w.op.Process(context.Background(), batch, h)
}

// emitRecorder keeps the encoded entries a guest emits, per port, as they
// cross the Wasm boundary: the bytes the suite compares across languages.
type emitRecorder struct {
	weir.NativeHost
	out map[int][][]byte
}

func (r *emitRecorder) Emit(port uint32, batch []byte) uint32 {
	code := r.NativeHost.Emit(port, batch)
	if code == uint32(abi.OK) {
		for rd := abi.NewReader(batch); rd.Next(); {
			r.out[int(port)] = append(r.out[int(port)], bytes.Clone(rd.Raw()))
		}
	}
	return code
}

// stepResult is what one step of a vector produced: the entries emitted per
// port, or the failure.
type stepResult struct {
	out   map[int][][]byte
	code  abi.Code // of a failed step
	entry int
	err   error
}

// diff reports how r differs from ref (the reference language's result of
// the same step), or "" if it does not: the same failure, or the same bytes
// on the same ports.
func (r stepResult) diff(ref stepResult) string {
	if (r.err == nil) != (ref.err == nil) || r.code != ref.code || r.entry != ref.entry {
		return fmt.Sprintf("failure %v (code %d, entry %d), reference %v (code %d, entry %d)", r.err, r.code, r.entry, ref.err, ref.code, ref.entry)
	}
	ports := func(m map[int][][]byte) []int {
		var ps []int
		for p, es := range m {
			if len(es) > 0 {
				ps = append(ps, p)
			}
		}
		slices.Sort(ps)
		return ps
	}
	if got, want := ports(r.out), ports(ref.out); !slices.Equal(got, want) {
		return fmt.Sprintf("output on ports %v, reference on %v", got, want)
	}
	for p, want := range ref.out {
		got := r.out[p]
		if !slices.EqualFunc(got, want, bytes.Equal) {
			return fmt.Sprintf("port %d emitted\n%sreference\n%s", p, formatEntries(got), formatEntries(want))
		}
	}
	return ""
}

// formatEntries renders encoded entries one per line, with their bytes in hex.
func formatEntries(es [][]byte) string {
	var b strings.Builder
	for _, e := range es {
		d, ok := abi.EntryAt(append(batchHeader(1), e...), 0)
		if !ok {
			fmt.Fprintf(&b, "\t(undecodable) %x\n", e)
			continue
		}
		fmt.Fprintf(&b, "\tkey %q value %q headers %x timestamp %d tracking id %d: %x\n", d.Key, d.Value, d.Headers, d.Timestamp, d.TrackingID, e)
	}
	return b.String()
}

// batchHeader returns the header of a batch of count entries.
func batchHeader(count int) []byte {
	var w abi.Writer
	w.Reset()
	h := bytes.Clone(w.Bytes())
	h[4], h[5], h[6], h[7] = byte(count), byte(count>>8), byte(count>>16), byte(count>>24)
	return h
}

// TestWasmVectors runs every behaviour vector through the Wasm build of its
// reference operator in every language, in the real host, with the harness
// rules of abi/testdata/operators/README.md; then it checks that each
// language emitted the same bytes as the reference language (Go) at every
// step: entry headers, keys, values, headers, timestamps and tracking ids.
func TestWasmVectors(t *testing.T) {
	vectors := readVectors(t)
	engine := newEngine(t, host.Config{Logger: quietLogger})
	for _, name := range slices.Sorted(maps.Keys(vectors)) {
		v := vectors[name]
		t.Run(name, func(t *testing.T) {
			results := map[string][]stepResult{}
			for _, lang := range languages {
				t.Run(lang, func(t *testing.T) {
					results[lang] = runVector(t, engine, lang, v)
				})
			}
			ref := results[languages[0]]
			for _, lang := range languages[1:] {
				got, ok := results[lang]
				if !ok || ref == nil {
					continue // skipped, or failed above
				}
				for i := range v.Steps {
					if d := got[i].diff(ref[i]); d != "" {
						t.Errorf("%s step %d (%s): %s differs from %s: %s", name, i, v.Steps[i].Note, lang, languages[0], d)
					}
				}
			}
		})
	}
}

// runVector runs v against the lang build of its operator and returns what
// each step emitted. It returns nil if a step did not do what v expects (t
// has failed then).
func runVector(t *testing.T, engine *host.Engine, lang string, v vector) []stepResult {
	mod := loadModule(t, engine, lang+"-"+v.Operator, build(t, lang, v.Operator), host.Limits{})
	info := runtime.OperatorInfo{Name: v.Operator, Keyed: v.Keyed, Config: []byte(v.Config)}
	w := &wasmOperator{newInstance(t, mod, info)}
	rec := &emitRecorder{}
	r := newVectorRun(t, v, w, func() { w.op = newInstance(t, mod, info) },
		weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { rec.NativeHost = nh; return rec }))
	results := make([]stepResult, len(v.Steps))
	for i, s := range v.Steps {
		rec.out = map[int][][]byte{}
		err := runStep(t, r, i, s)
		results[i] = stepResult{out: rec.out, err: err, entry: -1}
		var oe *runtime.OperatorError
		switch {
		case errors.As(err, &oe):
			results[i].out, results[i].code, results[i].entry = nil, oe.Code, oe.Entry
		case err != nil:
			t.Fatalf("step %d (%s): %v", i, s.Note, err)
		}
	}
	if t.Failed() {
		return nil
	}
	return results
}

// vectorRun is the harness side of a vector's run: a harness with the
// vector's endpoints, the calls they received in the current step, and how
// to restart the operator (a step "restart").
type vectorRun struct {
	h       *weirtest.Harness
	restart func()
	calls   []call
}

// newVectorRun returns a run of v's steps through p, on a harness keyed as
// v says, with v's endpoints and the options opts. restart replaces p's
// operator instance with a new one.
func newVectorRun(t *testing.T, v vector, p weirtest.Processor, restart func(), opts ...weirtest.Option) *vectorRun {
	r := &vectorRun{restart: restart}
	opts = append(opts, weirtest.QuietLogs())
	if !v.Keyed {
		opts = append(opts, weirtest.Unkeyed())
	}
	for name, answers := range v.Endpoints {
		opts = append(opts, weirtest.WithEndpoint(name, func(request, key []byte) (weir.Response, error) {
			r.calls = append(r.calls, call{Endpoint: name, Request: string(request), Key: string(key)})
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
		}))
	}
	r.h = weirtest.NewProcessor(t, p, opts...)
	return r
}

// runStep runs step i and checks it against its expectation; it returns the
// step's error, which is nil unless the step expects one.
func runStep(t *testing.T, r *vectorRun, i int, s step) error {
	t.Helper()
	h := r.h
	h.ClearOutput()
	r.calls = r.calls[:0]
	var err error
	switch {
	case s.Restart:
		r.restart()
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
	if s.differential {
		return err
	}
	if !slices.Equal(r.calls, s.ExpectCalls) {
		t.Errorf("step %d (%s): the endpoints received calls %+v, want %+v", i, s.Note, r.calls, s.ExpectCalls)
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
		return err
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
	return nil
}
