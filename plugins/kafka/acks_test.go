package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/weirstream/weir/plugins/kafka/kafkatest"
	"github.com/weirstream/weir/runtime"
)

func mustAcks(t testing.TB, opts string) *Acks {
	t.Helper()
	a, err := NewAcks(json.RawMessage(opts), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.(*Acks).Close() })
	return a.(*Acks)
}

// TestAcks delivers a checkpoint's statuses twice, as a restart does, to a
// topic the target creates, and reads it back with read_committed: the topic
// holds at-least-once copies keyed by the piece's id (cut at multiples of
// batch), every copy of a key has the same AckBatch as JSON, and keeping one
// record per key (what a consumer or compaction does, docs/acks.md) gives
// exactly one status per message, the NACK listing its failed part.
func TestAcks(t *testing.T) {
	b := kafkatest.Start(t, kafkatest.Options{})
	a := mustAcks(t, fmt.Sprintf(`{"brokers":[%q],"topic":"acks","createTopic":true,"batch":10}`, b.Addr))
	batches := []runtime.AckBatch{
		{Job: "j", Source: "in", Split: "0", Checkpoint: 3, From: 7, To: 25, Nacks: []runtime.Nack{{Seq: 12, TrackingID: 1<<56 | 12, Failed: []runtime.AckPart{{DLQ: 7, Operator: "price", Key: []byte("k"), Error: "trap"}}}}},
		{Job: "j", Source: "in", Split: "1", Checkpoint: 3, From: 0, To: 4},
	}
	ctx := context.Background()
	for range 2 {
		if err := a.Deliver(ctx, batches); err != nil {
			t.Fatal(err)
		}
	}

	recs := b.ReadCommitted(t, "acks")
	byKey := map[string]string{}
	copies := map[string]int{}
	for _, r := range recs {
		k := string(r.Key)
		if v, ok := byKey[k]; ok && v != string(r.Value) {
			t.Errorf("key %s has two different values:\n%s\n%s", k, v, r.Value)
		}
		byKey[k] = string(r.Value)
		copies[k]++
	}
	keys := slices.Sorted(maps.Keys(byKey))
	if want := []string{"j/in/0/10-20", "j/in/0/20-25", "j/in/0/7-10", "j/in/1/0-4"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for k, n := range copies {
		if n != 2 {
			t.Errorf("key %s: %d copies, want 2 (one per delivery)", k, n)
		}
	}
	status := map[string]string{} // MessageID -> ACK or NACK <dlq>
	for k, v := range byKey {
		var ab runtime.AckBatch
		if err := json.Unmarshal([]byte(v), &ab); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if ab.ID() != k || ab.Checkpoint != 3 {
			t.Errorf("record keyed %s holds %s of checkpoint %d", k, ab.ID(), ab.Checkpoint)
		}
		nacked := map[uint64]runtime.Nack{}
		for _, n := range ab.Nacks {
			nacked[n.Seq] = n
		}
		for seq := ab.From; seq < ab.To; seq++ {
			id := runtime.MessageID(ab.Job, ab.Source, ab.Split, seq)
			if _, dup := status[id]; dup {
				t.Errorf("message %s has two statuses", id)
			}
			status[id] = "ACK"
			if n, ok := nacked[seq]; ok {
				status[id] = fmt.Sprintf("NACK %d", n.Failed[0].DLQ)
			}
		}
	}
	if len(status) != 18+4 {
		t.Errorf("%d statuses, want 22 (messages 7..24 of split 0, 0..3 of split 1)", len(status))
	}
	for id, s := range status {
		if want := map[bool]string{true: "NACK 7", false: "ACK"}[id == "j/in/0/12"]; s != want {
			t.Errorf("%s: %s, want %s", id, s, want)
		}
	}

	rcs, err := kadm.NewClient(b.Client()).DescribeTopicConfigs(ctx, "acks")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := rcs.On("acks", nil); err != nil || !slices.ContainsFunc(c.Configs, func(c kadm.Config) bool {
		return c.Key == "cleanup.policy" && c.Value != nil && *c.Value == "compact"
	}) {
		t.Errorf("the created topic is not compacted: %+v %v", c.Configs, err)
	}

	// A missing topic without createTopic is an error that says what to do.
	a = mustAcks(t, fmt.Sprintf(`{"brokers":[%q],"topic":"missing"}`, b.Addr))
	err = a.Deliver(ctx, batches)
	if err == nil || !strings.Contains(err.Error(), "topic missing (option topic) does not exist: create it (compacted: cleanup.policy=compact), or set option createTopic: true") {
		t.Errorf("Deliver to a missing topic: %v", err)
	}
}

// TestAcksOptions: bad options are errors that name the option.
func TestAcksOptions(t *testing.T) {
	t.Setenv(DefaultBrokersEnv, "")
	for _, tt := range []struct{ opts, want string }{
		{`{"brokers":["h:1"]}`, "kafka acks: option topic: required"},
		{`{"topic":"t"}`, "kafka acks: option brokersEnv: environment variable WEIR_KAFKA_BROKERS is not set"},
		{`{"brokers":["h"],"topic":"t"}`, `kafka acks: option brokers: broker "h" is not host:port`},
		{`{"brokers":["h:1"],"topic":"a b"}`, `kafka acks: option topic: "a b" has ' '`},
		{`{"brokers":["h:1"],"topic":"t","batch":-1}`, "kafka acks: option batch: -1 is not in 1..100000"},
		{`{"brokers":["h:1"],"topic":"t","batch":100001}`, "kafka acks: option batch: 100001 is not in 1..100000"},
		{`{"brokers":["h:1"],"topic":"t","stream":"x"}`, `unknown field "stream"`},
	} {
		if _, err := NewAcks(json.RawMessage(tt.opts), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
	a := mustAcks(t, `{"brokers":["h:1"],"topic":"t"}`)
	if a.batch != DefaultAckBatch {
		t.Errorf("default batch %d, want %d", a.batch, DefaultAckBatch)
	}
}
