package weir_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	weir "github.com/weirstream/weir/sdk/go"
	"github.com/weirstream/weir/sdk/go/weirtest"
)

// commandOp runs a command per record; a command returns the value to emit.
func commandOp(t *testing.T, run func(ctx *weir.Context, cmd, arg string) (string, error)) *weirtest.Harness {
	return weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		cmd, arg, _ := strings.Cut(string(r.Value), " ")
		out, err := run(ctx, cmd, arg)
		if err != nil {
			return err
		}
		if out != "" {
			ctx.Emit(weir.Record{Value: []byte(out)})
		}
		return nil
	}), nil)
}

// lastOutputs returns the values emitted so far, and forgets them.
func values(h *weirtest.Harness) []string {
	var vs []string
	for _, r := range h.Output(0) {
		vs = append(vs, string(r.Value))
	}
	h.ClearOutput()
	return vs
}

func do(h *weirtest.Harness, key string, cmds ...string) []string {
	recs := make([]weir.Record, len(cmds))
	for i, c := range cmds {
		recs[i] = rec(key, c, 1, 1)
	}
	h.Process(recs...)
	return values(h)
}

func check(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

var valueState = weir.NewValueState("value", weir.String)

func TestValueState(t *testing.T) {
	h := commandOp(t, func(ctx *weir.Context, cmd, arg string) (string, error) {
		switch cmd {
		case "set":
			return "", valueState.Set(ctx, arg)
		case "clear":
			return "", valueState.Clear(ctx)
		}
		v, ok, err := valueState.Get(ctx)
		return fmt.Sprintf("%q %v", v, ok), err
	})
	check(t, do(h, "a", "get", "set x", "get", "set ", "get"), `"" false`, `"x" true`, `"" true`)
	check(t, do(h, "b", "get", "set y", "get"), `"" false`, `"y" true`)
	check(t, do(h, "a", "get", "clear", "get"), `"" true`, `"" false`)
	check(t, do(h, "b", "get"), `"y" true`)
	if got := h.State("value", []byte("b")); len(got) != 1 || len(got[0].UserKey) != 0 || string(got[0].Value) != "y" {
		t.Fatalf("value state b is stored as %q, want the user key of length 0 (ABI §5.2)", got)
	}
	h.Restart()
	check(t, do(h, "b", "get"), `"y" true`)
}

var mapState = weir.NewMapState("map", weir.Int64, weir.String)

func TestMapState(t *testing.T) {
	h := commandOp(t, func(ctx *weir.Context, cmd, arg string) (string, error) {
		k, v, _ := strings.Cut(arg, "=")
		n, _ := strconv.ParseInt(k, 10, 64)
		switch cmd {
		case "put":
			return "", mapState.Put(ctx, n, v)
		case "del":
			return "", mapState.Delete(ctx, n)
		case "clear":
			return "", mapState.Clear(ctx)
		case "get":
			v, ok, err := mapState.Get(ctx, n)
			return fmt.Sprintf("%q %v", v, ok), err
		case "range":
			var kv []string
			err := mapState.Range(ctx, func(k int64, v string) bool {
				kv = append(kv, fmt.Sprintf("%d=%s", k, v))
				return arg == "" || len(kv) < 2
			})
			return "[" + strings.Join(kv, ",") + "]", err
		case "drain":
			// Delete every entry while ranging over the map.
			var ks []string
			err := mapState.Range(ctx, func(k int64, _ string) bool {
				ks = append(ks, strconv.FormatInt(k, 10))
				return mapState.Delete(ctx, k) == nil
			})
			return "[" + strings.Join(ks, ",") + "]", err
		}
		return "", fmt.Errorf("bad command %q", cmd)
	})
	check(t, do(h, "a", "put 5=five", "put -3=minus three", "put 0=zero", "put 9223372036854775807=max", "put -9223372036854775808=min"))
	check(t, do(h, "a", "range"), "[-9223372036854775808=min,-3=minus three,0=zero,5=five,9223372036854775807=max]")
	check(t, do(h, "a", "range 2"), "[-9223372036854775808=min,-3=minus three]")
	check(t, do(h, "a", "get 5", "get 6", "del 5", "del 6", "get 5"), `"five" true`, `"" false`, `"" false`)
	check(t, do(h, "b", "range", "put 1=b1", "range"), "[]", "[1=b1]")
	check(t, do(h, "a", "drain", "range"), "[-9223372036854775808,-3,0,9223372036854775807]", "[]")
	check(t, do(h, "b", "clear", "range"), "[]")
}

// TestMapStateScanChunks ranges over more pairs than one state_scan buffer
// holds, and over one pair larger than it, so that the SDK continues after
// each chunk and grows its buffer (ABI §5.1).
func TestMapStateScanChunks(t *testing.T) {
	big := weir.NewMapState("big", weir.Uint64, weir.Bytes)
	const n = 300
	sc := &scanCounter{}
	h := weirtest.New(t, emitOnly(func(ctx *weir.Context, r weir.Record) error {
		switch string(r.Value) {
		case "fill":
			for i := range n {
				v := bytes.Repeat([]byte{byte(i)}, 1000)
				if i == 150 {
					v = bytes.Repeat([]byte{'L'}, 300_000) // larger than the first scan buffer
				}
				if err := big.Put(ctx, uint64(i), v); err != nil {
					return err
				}
			}
			return nil
		}
		next := uint64(0)
		return big.Range(ctx, func(k uint64, v []byte) bool {
			want := 1000
			if k == 150 {
				want = 300_000
			}
			if k != next || len(v) != want {
				ctx.Emit(weir.Record{Value: []byte(fmt.Sprintf("key %d (want %d) with %d bytes (want %d)", k, next, len(v), want))})
			}
			next++
			if next == n {
				ctx.Emit(weir.Record{Value: []byte("done")})
			}
			return true
		})
	}), nil, weirtest.WrapHost(func(nh weir.NativeHost) weir.NativeHost { sc.NativeHost = nh; return sc }))
	h.Process(rec("k", "fill", 1, 1))
	h.Process(rec("k", "range", 1, 1))
	check(t, values(h), "done")
	// The 150 KB of pairs before the large one take three 64 KiB chunks; the
	// 300 KB pair gets BUFFER_TOO_SMALL for 64, 128 and 256 KiB, and the
	// 512 KiB buffer takes it and the rest.
	if sc.scans < 7 {
		t.Fatalf("%d state_scan calls; the scan did not go in chunks", sc.scans)
	}
}

// scanCounter counts StateScan calls.
type scanCounter struct {
	weir.NativeHost
	scans int
}

func (s *scanCounter) StateScan(entry uint32, name, start []byte, fn func(userKey, value []byte) bool) uint32 {
	s.scans++
	return s.NativeHost.StateScan(entry, name, start, fn)
}

var listState = weir.NewListState("list", weir.String)

func TestListState(t *testing.T) {
	h := commandOp(t, func(ctx *weir.Context, cmd, arg string) (string, error) {
		switch cmd {
		case "add":
			return "", listState.Add(ctx, arg)
		case "update":
			var vs []string
			if arg != "" {
				vs = strings.Split(arg, ",")
			}
			return "", listState.Update(ctx, vs)
		case "clear":
			return "", listState.Clear(ctx)
		case "len":
			n, err := listState.Len(ctx)
			return strconv.Itoa(n), err
		case "range":
			var s []string
			err := listState.Range(ctx, func(i int, v string) bool {
				s = append(s, fmt.Sprintf("%d:%s", i, v))
				return true
			})
			return strings.Join(s, " "), err
		}
		vs, err := listState.Get(ctx)
		return fmt.Sprintf("%q", vs), err
	})
	check(t, do(h, "a", "len", "get", "add x", "add y", "add ", "len", "get", "range"), "0", "[]", "3", `["x" "y" ""]`, "0:x 1:y 2:")
	check(t, do(h, "b", "add only", "get"), `["only"]`)
	check(t, do(h, "a", "update p,q", "get", "len", "update ", "len", "add z", "get"), `["p" "q"]`, "2", "0", `["z"]`)
	check(t, do(h, "a", "clear", "len", "get"), "0", "[]")

	// Layout: the length at the user key of length 0, elements at 8-byte
	// big-endian indexes, so that a scan returns them in order.
	do(h, "c", "add e0", "add e1")
	kvs := h.State("list", []byte("c"))
	if len(kvs) != 3 || len(kvs[0].UserKey) != 0 || binary.BigEndian.Uint64(kvs[0].Value) != 2 ||
		!bytes.Equal(kvs[2].UserKey, []byte{0, 0, 0, 0, 0, 0, 0, 1}) || string(kvs[2].Value) != "e1" {
		t.Fatalf("list state c is stored as %q", kvs)
	}
}

var maxState = weir.NewReducingState("max", weir.Int64, func(acc, v int64) int64 { return max(acc, v) })

type avgAcc struct{ Sum, N float64 }

var avgState = weir.NewAggregatingState("avg", weir.JSON[avgAcc](), weir.AggregateFunc[float64, avgAcc, float64]{
	Add:    func(a avgAcc, v float64) avgAcc { return avgAcc{a.Sum + v, a.N + 1} },
	Result: func(a avgAcc) float64 { return a.Sum / a.N },
})

func TestReducingAndAggregatingState(t *testing.T) {
	h := commandOp(t, func(ctx *weir.Context, cmd, arg string) (string, error) {
		n, _ := strconv.ParseInt(arg, 10, 64)
		switch cmd {
		case "add":
			if err := maxState.Add(ctx, n); err != nil {
				return "", err
			}
			return "", avgState.Add(ctx, float64(n))
		case "clear":
			if err := maxState.Clear(ctx); err != nil {
				return "", err
			}
			return "", avgState.Clear(ctx)
		}
		m, ok1, err := maxState.Get(ctx)
		if err != nil {
			return "", err
		}
		a, ok2, err := avgState.Get(ctx)
		return fmt.Sprintf("max=%d,%v avg=%g,%v", m, ok1, a, ok2), err
	})
	check(t, do(h, "a", "get", "add -5", "get", "add 7", "add 3", "get"), "max=0,false avg=0,false", "max=-5,true avg=-5,true", "max=7,true avg=1.6666666666666667,true")
	check(t, do(h, "b", "add -9", "get"), "max=-9,true avg=-9,true")
	check(t, do(h, "a", "clear", "get"), "max=0,false avg=0,false")
}

func TestStateNamePanics(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("n", 256)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewValueState(%d-byte name) did not panic", len(name))
				}
			}()
			weir.NewValueState(name, weir.Int64)
		}()
	}
	weir.NewValueState(strings.Repeat("n", 255), weir.Int64) // the longest valid name
}

// TestCodecs checks that each codec decodes what it encodes and that the
// fixed-size ones keep the order of the values in the order of the bytes.
func TestCodecs(t *testing.T) {
	roundTrip(t, "Int64", weir.Int64, []int64{math.MinInt64, -1 << 40, -2, -1, 0, 1, 2, 1 << 40, math.MaxInt64}, true)
	roundTrip(t, "Uint64", weir.Uint64, []uint64{0, 1, 255, 256, 1 << 63, math.MaxUint64}, true)
	roundTrip(t, "Float64", weir.Float64, []float64{math.Inf(-1), -math.MaxFloat64, -1.5, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, 2.5, math.MaxFloat64, math.Inf(1)}, true)
	roundTrip(t, "String", weir.String, []string{"", "a", "ab", "b", "é", "☃"}, true)
	roundTrip(t, "Bool", weir.Bool, []bool{false, true}, true)
	roundTrip(t, "JSON", weir.JSON[avgAcc](), []avgAcc{{1, 2}, {0, 0}}, false)

	b, _ := weir.Bytes.Append(nil, []byte("xy"))
	got, _ := weir.Bytes.Decode(b)
	b[0] = 'Z'
	if string(got) != "xy" {
		t.Errorf("Bytes.Decode returned %q, which aliases its input", got)
	}
	for name, err := range map[string]error{
		"Int64":   decodeErr(weir.Int64, []byte{1}),
		"Uint64":  decodeErr(weir.Uint64, nil),
		"Float64": decodeErr(weir.Float64, make([]byte, 9)),
		"Bool":    decodeErr(weir.Bool, []byte{2}),
		"JSON":    decodeErr(weir.JSON[avgAcc](), []byte("{")),
	} {
		if err == nil {
			t.Errorf("%s decoded malformed bytes", name)
		}
	}
}

func decodeErr[T any](c weir.Codec[T], b []byte) error {
	_, err := c.Decode(b)
	return err
}

func roundTrip[T comparable](t *testing.T, name string, c weir.Codec[T], ascending []T, ordered bool) {
	t.Helper()
	var encs [][]byte
	for _, v := range ascending {
		b, err := c.Append([]byte("prefix"), v)
		if err != nil {
			t.Fatalf("%s: Append(%v): %v", name, v, err)
		}
		b = b[len("prefix"):]
		got, err := c.Decode(b)
		if err != nil || got != v {
			t.Errorf("%s: Decode(Append(%v)) = %v, %v", name, v, got, err)
		}
		encs = append(encs, b)
	}
	if ordered && !sort.SliceIsSorted(encs, func(i, j int) bool { return bytes.Compare(encs[i], encs[j]) < 0 }) {
		t.Errorf("%s: encodings of ascending values are not in ascending byte order: %x", name, encs)
	}
}
