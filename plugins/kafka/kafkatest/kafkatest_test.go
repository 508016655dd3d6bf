package kafkatest

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestart starts a broker, commits a transaction and aborts another,
// kills the broker and starts it again on the same log directory, and reads
// back the committed record only.
func TestRestart(t *testing.T) {
	b := Start(t, Options{})
	b.CreateTopic(t, "t", 2)
	ctx := context.Background()
	p := b.Client(kgo.TransactionalID("kafkatest-restart"), kgo.DefaultProduceTopic("t"))
	for _, commit := range []kgo.TransactionEndTry{kgo.TryCommit, kgo.TryAbort} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		v := "committed"
		if !commit {
			v = "aborted"
		}
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: 0}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	b.Stop()
	b.Restart()
	recs := b.ReadCommitted(t, "t")
	if len(recs) != 1 || string(recs[0].Value) != "committed" {
		var vs []string
		for _, r := range recs {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("read_committed after a restart: %q, want [committed]", vs)
	}
}
