package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
)

// TestAcks delivers a checkpoint's statuses twice, as a restart does: the
// stream holds each piece once (cut at multiples of batch), with its id as
// Nats-Msg-Id and its AckBatch as JSON.
func TestAcks(t *testing.T) {
	srv := natstest.Start(t)
	a, err := NewAcks(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"ACKS","subject":"acks.j","createStream":true,"batch":10}`, srv.URL())), "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.(*Acks).Close()
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
	want := []string{"j/in/0/7-10", "j/in/0/10-20", "j/in/0/20-25", "j/in/1/0-4"}
	msgs := srv.Messages(t, "ACKS")
	var got []string
	for _, m := range msgs {
		var b runtime.AckBatch
		if err := json.Unmarshal(m.Data(), &b); err != nil {
			t.Fatal(err)
		}
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != b.ID() || m.Subject() != "acks.j" || b.Checkpoint != 3 {
			t.Errorf("%s on %s has Nats-Msg-Id %q: %s", b.ID(), m.Subject(), id, m.Data())
		}
		if want := b.ID() == "j/in/0/10-20"; want != (len(b.Nacks) == 1) || want && (b.Nacks[0].Seq != 12 || b.Nacks[0].Failed[0].DLQ != 7) {
			t.Errorf("%s: NACKs %+v", b.ID(), b.Nacks)
		}
		got = append(got, b.ID())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the stream holds %v, want %v (each piece once)", got, want)
	}
}

// TestAcksOptions: bad options and a duplicate window too short for a
// restart are errors that name what to change.
func TestAcksOptions(t *testing.T) {
	t.Setenv(DefaultURLEnv, "")
	for _, tt := range []struct{ opts, want string }{
		{`{"url":"nats://x","subject":"s"}`, "nats acks: option stream: required"},
		{`{"url":"nats://x","stream":"S"}`, "nats acks: option subject: required"},
		{`{"url":"nats://x","stream":"S","subject":"s.>"}`, `option subject: "s.>" has wildcard`},
		{`{"stream":"S","subject":"s"}`, "option urlEnv: environment variable WEIR_NATS_URL is not set"},
		{`{"url":"nats://x","stream":"S","subject":"s","target":"x"}`, `unknown field "target"`},
		{`{"url":"nats://x","stream":"S","subject":"s","batch":-1}`, "option batch: -1 is not in 1..100000"},
	} {
		if _, err := NewAcks(json.RawMessage(tt.opts), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
	srv := natstest.Start(t)
	if _, err := srv.JetStream(t).CreateStream(context.Background(), jetstream.StreamConfig{Name: "SHORT", Subjects: []string{"short"}, Duplicates: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	a, err := NewAcks(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"SHORT","subject":"short"}`, srv.URL())), "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.(*Acks).Close()
	a.(*Acks).SetJobTiming(runtime.JobTiming{RestartDelay: time.Second})
	err = a.Deliver(context.Background(), []runtime.AckBatch{{Job: "j", Source: "in", Split: "0", To: 1}})
	if err == nil || !strings.Contains(err.Error(), "stream SHORT (option stream): its duplicate window (duplicate_window) is 20s, shorter than the 1m31s") {
		t.Errorf("a 20s duplicate window: got %v", err)
	}
}

// BenchmarkAcksDeliver is the nats ack target's cost per status, the
// broker's included (it runs in the benchmark process), with the default
// batch and with one status per stream message.
//
//	go test -run '^$' -bench BenchmarkAcksDeliver ./plugins/nats/
func BenchmarkAcksDeliver(b *testing.B) {
	srv := natstest.Start(b)
	for _, batch := range []int{DefaultAckBatch, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			a, err := NewAcks(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"B%d","subject":"acks.b%d","createStream":true,"batch":%d}`, srv.URL(), batch, batch, batch)), "")
			if err != nil {
				b.Fatal(err)
			}
			defer a.(*Acks).Close()
			const n = 10000
			var seq uint64
			for range b.N {
				bt := runtime.AckBatch{Job: "bench", Source: "events", Split: "split-0-of-4", Checkpoint: 1, From: seq, To: seq + n,
					Nacks: []runtime.Nack{{Seq: seq + 17, TrackingID: 1, Failed: []runtime.AckPart{{DLQ: 1, Operator: "op", Error: "trap"}}}}}
				seq += n
				if err := a.Deliver(context.Background(), []runtime.AckBatch{bt}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/status")
		})
	}
}
