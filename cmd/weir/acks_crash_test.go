package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/plugins/kafka/kafkatest"
	"github.com/weirstream/weir/plugins/localfs"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
)

// acksSpec is poisonSpec (policy dlq) with its ACK/NACKs on an embedded
// JetStream stream.
const acksSpec = poisonSpecHead + `acks:
  kind: nats
  options: {urlEnv: WEIR_TEST_NATS, stream: ACKS, subject: acks.crash, createStream: true, batch: 100}
`

// acksWebhookSpec is poisonSpec (policy dlq) with its ACK/NACKs POSTed to
// a webhook.
const acksWebhookSpec = poisonSpecHead + `acks:
  kind: webhook
  options: {urlEnv: WEIR_TEST_HOOK, batch: 100, retries: 2}
`

// TestAcksCrash runs the poison job with policy dlq and a nats ack target,
// killed with SIGKILL at random moments (at least 20 times) and rerun on the
// same data directory, while the broker restarts every 1.5 s: the ACKS stream must hold exactly one status per
// input record, a NACK for exactly the poison records, each listing the one
// failed part that is the record's DLQ entry, and an ACK for every other.
func TestAcksCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes and a nats-server for tens of seconds")
	}
	srv := natstest.Start(t)
	outage := func() {
		srv.Stop()
		time.Sleep(300 * time.Millisecond)
		if err := srv.Server.Restart(); err != nil {
			t.Error(err)
		}
	}
	dir, seed := acksCrashRun(t, acksSpec, "WEIR_TEST_NATS="+srv.URL(), outage)
	// The statuses: small batches, so that a checkpoint's range is cut in
	// several pieces and restores redeliver some of them.
	var batches []runtime.AckBatch
	for _, m := range srv.Messages(t, "ACKS") {
		var b runtime.AckBatch
		if err := json.Unmarshal(m.Data(), &b); err != nil {
			t.Fatalf("seed %d: status batch %q: %v", seed, m.Data(), err)
		}
		if id := m.Headers().Get(jetstream.MsgIDHeader); id != b.ID() {
			t.Fatalf("seed %d: status batch %s has Nats-Msg-Id %q", seed, b.ID(), id)
		}
		batches = append(batches, b)
	}
	checkAckStatuses(t, seed, dir, batches)
}

// TestAcksWebhookCrash is TestAcksCrash with a webhook target: a receiver
// that keeps the first request of each Idempotency-Key (and checks that a
// repeat is the same) and is down for 2 s now and then, longer than the
// target's retries, so deliveries fail their attempts.
func TestAcksWebhookCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for tens of seconds")
	}
	var mu sync.Mutex
	down, refused := false, 0
	seen := map[string][]byte{}
	var batches []runtime.AckBatch
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if down || err != nil {
			refused++
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		key := r.Header.Get("Idempotency-Key")
		if prev, ok := seen[key]; ok {
			if !bytes.Equal(prev, body) {
				t.Errorf("Idempotency-Key %s delivered with two bodies:\n%s\n%s", key, prev, body)
			}
			return
		}
		var b runtime.AckBatch
		if err := json.Unmarshal(body, &b); err != nil || b.ID() != key {
			t.Errorf("request %q: %s (%v)", key, body, err)
			return
		}
		seen[key] = body
		batches = append(batches, b)
	}))
	defer hook.Close()
	outage := func() {
		mu.Lock()
		down = true
		mu.Unlock()
		time.Sleep(2 * time.Second)
		mu.Lock()
		down = false
		mu.Unlock()
	}
	dir, seed := acksCrashRun(t, acksWebhookSpec, "WEIR_TEST_HOOK="+hook.URL+"/acks", outage)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("seed %d: the receiver refused %d requests while down", seed, refused)
	checkAckStatuses(t, seed, dir, batches)
}

// acksKafkaSpec is poisonSpec (policy dlq) with its ACK/NACKs produced to
// a Kafka topic, and restarts enough to outlast a broker restart (seconds,
// during which every delivery fails its attempt).
const acksKafkaSpec = poisonSpecHead + `acks:
  kind: kafka
  options: {brokersEnv: WEIR_TEST_KAFKA, topic: acks, createTopic: true, batch: 100}
restart: {attempts: 1000, delay: 200ms}
`

// TestAcksKafkaCrash is TestAcksCrash with a kafka target on a real broker,
// killed (SIGKILL) and restarted now and then: a delivery waits for the
// broker, so runs are killed between a checkpoint's commit and its
// delivery, and their restores deliver again. The topic holds at-least-once
// copies keyed by the batch id (docs/acks.md#kafka): a read_committed read
// must have identical bytes for every copy of a key, and one record per key
// must hold exactly one status per input record, as in TestAcksCrash.
func TestAcksKafkaCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes and a Kafka broker for tens of seconds")
	}
	b := kafkatest.Start(t, kafkatest.Options{})
	// NB: a JVM broker takes seconds to start, so restarting it at every
	// outage would keep it down most of the run (and every run waiting):
	// it restarts at the first maxBrokerRestarts outages only.
	const maxBrokerRestarts = 2
	restarts := 0
	outage := func() {
		if restarts == maxBrokerRestarts {
			return
		}
		restarts++
		b.Stop()
		time.Sleep(300 * time.Millisecond)
		b.Restart()
	}
	dir, seed := acksCrashRun(t, acksKafkaSpec, "WEIR_TEST_KAFKA="+b.Addr, outage)
	recs := b.ReadCommitted(t, "acks")
	byKey := map[string][]byte{}
	var batches []runtime.AckBatch
	for _, r := range recs {
		k := string(r.Key)
		if prev, ok := byKey[k]; ok {
			if !bytes.Equal(prev, r.Value) {
				t.Fatalf("seed %d: key %s has two different records:\n%s\n%s", seed, k, prev, r.Value)
			}
			continue
		}
		var ab runtime.AckBatch
		if err := json.Unmarshal(r.Value, &ab); err != nil {
			t.Fatalf("seed %d: status batch %q: %v", seed, r.Value, err)
		}
		if ab.ID() != k {
			t.Fatalf("seed %d: status batch %s has key %q", seed, ab.ID(), k)
		}
		byKey[k] = r.Value
		batches = append(batches, ab)
	}
	t.Logf("seed %d: %d broker restarts; read_committed read %d records, %d keys: dropped %d copies", seed, restarts, len(recs), len(batches), len(recs)-len(batches))
	checkAckStatuses(t, seed, dir, batches)
}

const acksCrashRecords = 360000

// acksCrashRun runs the job spec (acksSpec or the like) under weir run,
// killed with SIGKILL at random moments at least 20 times and rerun on the
// same data directory, with env added, while outage takes the ack target
// down every 1.5 s: a delivery that fails fails the attempt, and the
// restart (in the same process) must deliver again what the restored
// checkpoint decided — the path a SIGKILL between a commit and its delivery
// takes, which a kill rarely hits. It returns the job's directory and the
// seed, once a last run finished the job.
func acksCrashRun(t *testing.T, spec, env string, outage func()) (string, int64) {
	bin := buildWeir(t)
	wasm, err := filepath.Abs(wasmbuild.MustGo(t, "testdata/poison"))
	if err != nil {
		t.Fatal(err)
	}
	cache, dir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, spec, acksCrashRecords, wasm, "{policy: dlq}"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(int) *exec.Cmd {
		cmd := weirRun(bin, dir, cache)
		cmd.Env = append(os.Environ(), env)
		return cmd
	}
	const (
		minKills     = 20
		maxKillDelay = 800 * time.Millisecond // see TestCrashRecovery
	)
	seed := time.Now().UnixNano()
	stop, stopped := make(chan struct{}), make(chan struct{})
	outages := 0
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(1500 * time.Millisecond):
			}
			outage()
			outages++
		}
	}()
	restores := restoredRuns(killRuns(t, seed, minKills, maxKillDelay, run))
	close(stop)
	<-stopped
	if out, err := run(0).CombinedOutput(); err != nil || !strings.Contains(string(out), "crash finished") {
		t.Fatalf("seed %d: final run: %v\n%s", seed, err, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}
	t.Logf("seed %d: %d kills (%d restored a checkpoint), %d target outages", seed, minKills, restores, outages)
	return dir, seed
}

// checkAckStatuses checks the status batches the target kept, one per
// batch id, against the poison job in dir: exactly one status per input
// record, a NACK for exactly the poison records, each listing the one
// failed part that is the record's DLQ entry, and an ACK for every other.
func checkAckStatuses(t *testing.T, seed int64, dir string, batches []runtime.AckBatch) {
	t.Helper()
	// The DLQ: entry id -> the datagen index of its record.
	store, err := localfs.New(filepath.Join(dir, "data", "jobs", "crash", "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	dlq, err := runtime.ReadDLQ(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	deadIndex := map[int64]string{}
	for _, d := range dlq.Entries {
		deadIndex[d.ID] = string(d.Value[:20])
	}
	seen := map[string]bool{}
	var nacked []string
	acks := 0
	for _, b := range batches {
		if b.To-b.From > 100 || b.To <= b.From {
			t.Fatalf("seed %d: status batch %s is not 1 to 100 messages", seed, b.ID())
		}
		nacks := b.Nacks
		for seq := b.From; seq < b.To; seq++ {
			id := runtime.MessageID(b.Job, b.Source, b.Split, seq)
			if seen[id] {
				t.Fatalf("seed %d: %s has two statuses (the second in %s)", seed, id, b.ID())
			}
			seen[id] = true
			if len(nacks) == 0 || nacks[0].Seq != seq {
				acks++
				continue
			}
			n := nacks[0]
			nacks = nacks[1:]
			if len(n.Failed) != 1 || deadIndex[n.Failed[0].DLQ] == "" || n.Failed[0].Operator != "window" || !strings.Contains(n.Failed[0].Error, "poison record") {
				t.Fatalf("seed %d: NACK of %s: parts %+v are not one DLQ entry of the window operator", seed, id, n.Failed)
			}
			nacked = append(nacked, deadIndex[n.Failed[0].DLQ])
		}
		if len(nacks) > 0 {
			t.Fatalf("seed %d: batch %s NACKs %d, out of its range or order", seed, b.ID(), nacks[0].Seq)
		}
	}
	slices.Sort(nacked)
	wantDead := poisonIndexes(acksCrashRecords)
	if strings.Join(nacked, ",") != strings.Join(wantDead, ",") {
		t.Fatalf("seed %d: the NACKed records differ from the poison records: %s", seed, lineDiff(nacked, wantDead))
	}
	if len(seen) != acksCrashRecords || acks != acksCrashRecords-len(wantDead) {
		t.Fatalf("seed %d: %d statuses (%d ACKs) for %d records, %d of them poison", seed, len(seen), acks, acksCrashRecords, len(wantDead))
	}
	t.Logf("seed %d: %d ACKs and %d NACKs, one per record", seed, acks, len(nacked))
}
