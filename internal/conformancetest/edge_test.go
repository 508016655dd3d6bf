package conformancetest

import (
	"math"
	"testing"

	"github.com/weirstream/weir/host"
)

// edgeVectors are inputs at the edges of the reference operators'
// specifications (abi/testdata/operators/README.md) that the behaviour
// vectors do not cover: signs and leading zeros, int64 and uint64 limits,
// negative and extreme timestamps, bytes that are not text, malformed
// commands. They have no expected output: TestEdgeInputsIdentical only
// checks that every language does what the reference language does, byte for
// byte, failures included.
var edgeVectors = []vector{
	{Operator: "upper", Steps: []step{
		processStep(entry("", "", math.MinInt64, 0), entry("k", allBytes(), math.MaxInt64, math.MaxUint64),
			entry("h", "mIxEd", 0, 1, [2]string{"", ""}, [2]string{"a", "b"}, [2]string{"a", "c"})),
	}},
	{Operator: "runningsum", Keyed: true, Steps: []step{
		processStep(entry("a", "+5", 1, 1), entry("a", "-0", 2, 2), entry("a", "007", 3, 3), entry("b", "-9223372036854775808", 4, 4)),
		processStep(entry("c", "9223372036854775807", 5, 5), entry("c", "1", 6, 6)), // wraps around, as Go's int64 does
		processStep(entry("a", "9223372036854775808", 7, 7)),
		processStep(entry("a", "", 8, 8)),
		processStep(entry("a", " 1", 9, 9)),
		processStep(entry("a", "1_000", 10, 10)),
		processStep(entry("a", "0x10", 11, 11)),
		processStep(entry("a", "--1", 12, 12)),
		processStep(entry("a", "1", 13, 13), entry("\x00\xff", "2", 14, 14, [2]string{"dropped", "yes"})),
	}},
	{Operator: "tumblecount", Keyed: true, Steps: []step{
		processStep(entry("a", "x", -1, 1), entry("a", "x", -10000, 2), entry("a", "x", -10001, 3), entry("a", "x", 0, 4),
			entry("b", "x", 1_000_000_000_000_000, 5), entry("b", "x", math.MinInt64+20000, 6)),
		advanceWatermark(-10001),
		advanceWatermark(-1),
		processStep(entry("a", "late", -5, 7, [2]string{"h", "v"}), entry("a", "x", 0, 8), entry("c", "x", -1, 9)),
		advanceWatermark(math.MaxInt64 - 1),
		processStep(entry("a", "late", math.MaxInt64-10, 10)),
	}},
	{Operator: "timers", Keyed: true, Steps: []step{
		processStep(entry("a", "event:-5", 1, 1), entry("a", "event:+7", 2, 2), entry("b", "event:007", 3, 3),
			entry("b", "processing:0", 4, 4), entry("c", "event:-9223372036854775808", 5, 5), entry("c", "delete-event:99", 6, 6)),
		advanceWatermark(-6),
		advanceWatermark(7),
		advanceProcessingTime(0),
		processStep(entry("a", "event:", 7, 7)),
		processStep(entry("a", "event:abc", 8, 8)),
		processStep(entry("a", "EVENT:1", 9, 9)),
		processStep(entry("a", "event:1:2", 10, 10)),
		processStep(entry("a", "event", 11, 11)),
		processStep(entry("a", "processing:9223372036854775807", 12, 12), entry("a", "event:9223372036854775807", 13, 13)),
		advanceProcessingTime(math.MaxInt64),
		advanceWatermark(math.MaxInt64),
	}},
	{Operator: "sideoutput", Steps: []step{
		processStep(entry("a", "+1:x", 1, 1), entry("a", "-0:x", 2, 2), entry("a", "007:x", 3, 3), entry("a", "0255:x", 4, 4),
			entry("a", "1:", 5, 5), entry("a", "1:a:b", 6, 6)),
		processStep(entry("b", "2:t", 7, 7, [2]string{"timestamp", "-5"}, [2]string{"tracking-id", "18446744073709551615"}),
			entry("b", "2:t", 8, 8, [2]string{"timestamp", "none"}, [2]string{"timestamp", "3"}),
			entry("b", "2:t", 9, 9, [2]string{"x-timestamp", "3"}, [2]string{"tracking-id", "007"}),
			// A header value of 0 keeps the entry's own field (the vectors' rule).
			entry("b", "2:t", 10, 10, [2]string{"timestamp", "0"}, [2]string{"tracking-id", "0"})),
		processStep(entry("a", ":x", 10, 10)),
		processStep(entry("a", "256:x", 11, 11)),
		processStep(entry("a", "x", 12, 12)),
		processStep(entry("a", "-1:x", 13, 13)),
		processStep(entry("a", "1:x", 14, 14, [2]string{"timestamp", "soon"})),
		processStep(entry("a", "1:x", 15, 15, [2]string{"tracking-id", "-1"})),
		processStep(entry("a", "1:x", 16, 16, [2]string{"tracking-id", "18446744073709551616"})),
	}},
}

// entry returns an input record of an edge vector.
func entry(key, value string, ts int64, id uint64, headers ...[2]string) record {
	return record{Key: &key, Value: &value, Timestamp: &ts, TrackingID: id, Headers: headers}
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// processStep, advanceWatermark and advanceProcessingTime make the steps
// of edge vectors.
func processStep(recs ...record) step { return step{differential: true, Process: &recs} }

func advanceWatermark(ms int64) step { return step{differential: true, AdvanceWatermark: &ms} }

func advanceProcessingTime(ms int64) step {
	return step{differential: true, AdvanceProcessingTime: &ms}
}

// TestEdgeInputsIdentical runs edgeVectors through every language's build of
// the reference operators and checks that each emits exactly the entries the
// reference language emits at every step, and fails where it fails, with the
// same code at the same entry.
func TestEdgeInputsIdentical(t *testing.T) {
	engine := newEngine(t, host.Config{Logger: quietLogger})
	for _, v := range edgeVectors {
		t.Run(v.Operator, func(t *testing.T) {
			results := map[string][]stepResult{}
			for _, lang := range languages {
				t.Run(lang, func(t *testing.T) {
					results[lang] = runVector(t, engine, lang, v)
				})
			}
			ref := results[languages[0]]
			if ref == nil {
				t.Fatalf("the reference language %s did not run", languages[0])
			}
			for _, lang := range languages[1:] {
				got, ok := results[lang]
				if !ok || got == nil {
					continue // skipped, or failed above
				}
				for i := range v.Steps {
					if d := got[i].diff(ref[i]); d != "" {
						t.Errorf("step %d: %s differs from %s: %s", i, lang, languages[0], d)
					}
				}
			}
		})
	}
}
