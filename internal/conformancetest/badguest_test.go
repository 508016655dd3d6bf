package conformancetest

import (
	"context"
	"errors"
	"os"
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

// caseMemoryBytes is the memory limit of the bad-input guests: far below the
// 1 GiB the oom case asks for, and enough for any SDK's runtime.
const caseMemoryBytes = 64 << 20

// oobReport is what the oob case must emit for its "poison" record: every
// out-of-range pointer/length pair got OUT_OF_BOUNDS (3; -3 in the i64
// results of state_get and state_scan), ABI §5 and §8.
const oobReport = "state_get_name=-3 state_get_out=-3 state_put_key=3 state_put_value=3 " +
	"state_delete_key=3 state_clear_name=3 state_scan_start=-3 state_scan_out=-3"

// caseOperator loads the lang build of case name as the operator
// "bad-<name>" (module "<lang>-<name>") of a keyed input, under a memory limit
// of caseMemoryBytes, and returns a harness that drives it.
func caseOperator(t *testing.T, engine *host.Engine, lang, name string) *weirtest.Harness {
	t.Helper()
	mod := loadModule(t, engine, lang+"-"+name, build(t, lang, name), host.Limits{MemoryBytes: caseMemoryBytes})
	op := newInstance(t, mod, runtime.OperatorInfo{Name: "bad-" + name, Keyed: true})
	return weirtest.NewProcessor(t, wasmOperator{op}, weirtest.QuietLogs())
}

func rec(key, value string, ts int64, id uint64) weir.Record {
	return weir.Record{Key: []byte(key), Value: []byte(value), Timestamp: ts, TrackingID: id}
}

// wantFailure checks that err is the failure of the batch at entry, whose
// key is key, with status code (0: a trap), and that its message names the
// operator, the entry and each of texts.
func wantFailure(t *testing.T, err error, name string, entry int, key string, code abi.Code, texts ...string) {
	t.Helper()
	var oe *runtime.OperatorError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v, want a *runtime.OperatorError", err)
	}
	if oe.Entry != entry || string(oe.Key) != key || oe.Code != code {
		t.Fatalf("failure at entry %d (key %q) with code %d, want entry %d (key %q) with code %d: %v", oe.Entry, oe.Key, oe.Code, entry, key, code, err)
	}
	msg := err.Error()
	for _, want := range append([]string{`operator "bad-` + name + `"`, "entry " + strconv.Itoa(entry), `"` + key + `"`}, texts...) {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// wantSurvived checks that the operator still processes a batch after a
// failure: on a fresh instance after a trap, or on the same one after a
// status code (ABI §10).
func wantSurvived(t *testing.T, h *weirtest.Harness) {
	t.Helper()
	h.ClearOutput()
	h.Process(rec("after", "still here", 9, 9))
	if out := h.Output(0); len(out) != 1 || string(out[0].Key) != "after" || string(out[0].Value) != "still here" {
		t.Fatalf("after the failure the operator emitted\n%swant the record after/still here", weirtest.FormatRecords(out))
	}
}

// TestBadGuests runs every language's build of the cases that misbehave on
// purpose through the real host, and checks that each fails with an error
// that names the operator, the entry and the problem, that the host never
// touches memory outside the guest (OUT_OF_BOUNDS), and that the operator
// works again afterwards (issue 3, "Bad input").
func TestBadGuests(t *testing.T) {
	ctx := context.Background()
	engine := newEngine(t, host.Config{Logger: quietLogger})
	for _, lang := range languages {
		t.Run(lang, func(t *testing.T) {
			t.Run("poison", func(t *testing.T) {
				// A trap (ABI §10 step 4): the host reports the entry from the
				// cursor, with its key and tracking id, and replaces the instance.
				h := caseOperator(t, engine, lang, "poison")
				err := h.TryProcess(rec("a", "1", 1, 1), rec("b", "2", 2, 2), rec("poison", "3", 3, 3))
				wantFailure(t, err, "poison", 2, "poison", 0, "trapped")
				var oe *runtime.OperatorError
				if errors.As(err, &oe) && oe.TrackingID != 3 {
					t.Errorf("tracking id %d, want 3", oe.TrackingID)
				}
				if ps := h.Ports(); len(ps) != 0 {
					t.Errorf("the failed batch emitted to ports %v", ps)
				}
				wantSurvived(t, h)
			})
			t.Run("oom", func(t *testing.T) {
				// Memory is bounded (ABI §9): the 1 GiB allocation fails under
				// the limit, the guest dies, and a fresh instance takes over.
				h := caseOperator(t, engine, lang, "oom")
				h.Process(rec("a", "1", 1, 1))
				h.ClearOutput()
				err := h.TryProcess(rec("b", "2", 2, 2), rec("poison", "3", 3, 3))
				wantFailure(t, err, "oom", 1, "poison", 0)
				wantSurvived(t, h)
			})
			t.Run("oob", func(t *testing.T) {
				// Out-of-range pointers and lengths get OUT_OF_BOUNDS and change
				// nothing (ABI §5, §8); the guest goes on.
				h := caseOperator(t, engine, lang, "oob")
				h.Process(rec("a", "1", 1, 1), rec("poison", "2", 2, 2), rec("b", "3", 3, 3))
				want := []weir.Record{rec("a", "1", 1, 1), rec("poison", oobReport, 2, 2), rec("b", "3", 3, 3)}
				if got := h.Output(0); !slices.EqualFunc(got, want, weir.Record.Equal) {
					t.Fatalf("got\n%swant\n%s", weirtest.FormatRecords(got), weirtest.FormatRecords(want))
				}
				if st := h.State("s", []byte("poison")); len(st) != 0 {
					t.Errorf("state s of key poison is %v after out-of-range calls, want nothing", st)
				}
				// A rejected emit fails the call even though the guest returns
				// 0 (ABI §8): its records would be lost otherwise.
				h.ClearOutput()
				err := h.TryProcess(rec("c", "4", 4, 4), rec("poison-emit", "5", 5, 5))
				var oe *runtime.OperatorError
				if !errors.As(err, &oe) || oe.Code != abi.OutOfBounds || !strings.Contains(err.Error(), "outside guest memory") ||
					!strings.Contains(err.Error(), `operator "bad-oob"`) {
					t.Fatalf("got %v, want the batch to fail with OUT_OF_BOUNDS for the emit outside guest memory", err)
				}
				wantSurvived(t, h)
			})
			t.Run("status42", func(t *testing.T) {
				// A code in 1..99 that ABI v1 does not define (ABI §8).
				h := caseOperator(t, engine, lang, "status42")
				err := h.TryProcess(rec("a", "1", 1, 1), rec("poison", "2", 2, 2))
				wantFailure(t, err, "status42", 1, "poison", 42, "unknown status code 42")
				wantSurvived(t, h)
			})
			t.Run("abiv2", func(t *testing.T) {
				// A module of another ABI version is refused at load time,
				// with its name and the version (ABI §2).
				wasm, err := os.ReadFile(build(t, lang, "abiv2"))
				if err != nil {
					t.Fatal(err)
				}
				mod, err := engine.Load(ctx, lang+"-abiv2", wasm, host.Limits{})
				if err == nil {
					mod.Close(ctx)
					t.Fatal("the host loaded a module that exports weir_v2_process")
				}
				var me *host.ModuleError
				if !errors.As(err, &me) || me.Module != lang+"-abiv2" ||
					!strings.Contains(err.Error(), `module "`+lang+`-abiv2"`) || !strings.Contains(err.Error(), "requires Weir ABI v2; this host serves v1") {
					t.Fatalf("got %v, want a *host.ModuleError naming the module and ABI v2", err)
				}
			})
		})
	}
}
