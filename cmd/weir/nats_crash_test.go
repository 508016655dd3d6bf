package main

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirstream/weir/plugins/nats/natstest"
)

// natsCrashSpec reads stream IN (four subject-filter splits) into stream OUT
// through the nats source and sink. The parallelism changes from run to run;
// stopAtEnd is set only for the last run, once the input is complete.
const natsCrashSpec = `name: natscrash
parallelism: %d
checkpoint: {interval: 200ms}
restart: {attempts: 1000, delay: 200ms}
sources:
  - name: in
    kind: nats
    options: {urlEnv: WEIR_TEST_NATS, stream: IN, subjects: [in.0, in.1, in.2, in.3], stopAtEnd: %t}
sinks:
  - name: out
    kind: nats
    from: in
    options: {urlEnv: WEIR_TEST_NATS, stream: OUT, subject: out, createStream: true}
`

// The input: natsCrashRecords messages published while the job runs, at
// about natsCrashRate per second, so that every killed run has input left.
const (
	natsCrashRecords = 200_000
	natsCrashRate    = 10_000
	natsPublishChunk = 500
)

// publishInput publishes the crash test's input into stream IN at a steady
// rate, riding out a broker restart: a chunk whose acks fail is published
// again with the same Nats-Msg-Id values, which the stream deduplicates. It
// returns when done, or with an error after stop is closed.
func publishInput(js jetstream.JetStream, stop <-chan struct{}) error {
	start := time.Now()
	for first := 0; first < natsCrashRecords; {
		select {
		case <-stop:
			return fmt.Errorf("stopped after %d messages", first)
		default:
		}
		var fs []jetstream.PubAckFuture
		var err error
		for i := first; i < min(first+natsPublishChunk, natsCrashRecords) && err == nil; i++ {
			m := nats.NewMsg(fmt.Sprintf("in.%d", i%4))
			m.Data = fmt.Appendf(nil, "%020d-payload", i)
			m.Header.Set(jetstream.MsgIDHeader, fmt.Sprint(i))
			var f jetstream.PubAckFuture
			if f, err = js.PublishMsgAsync(m); err == nil {
				fs = append(fs, f)
			}
		}
		for _, f := range fs {
			if err != nil {
				break
			}
			select {
			case <-f.Ok():
			case err = <-f.Err():
			case <-time.After(5 * time.Second):
				err = fmt.Errorf("no ack")
			}
		}
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue // the broker restarts: publish the chunk again
		}
		first += natsPublishChunk
		if ahead := time.Duration(first)*time.Second/natsCrashRate - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	return nil
}

// TestNATSCrashRecovery runs a job from a JetStream stream to another through
// the nats source and sink as a child `weir run`, against a real nats-server
// in this process, while the input is being published. It kills the job with
// SIGKILL at random moments (at least 10 times, seed logged) at a
// parallelism of 1, 2 or 3 chosen per run, restarts the nats-server while a
// later run checkpoints, then lets a last run read to the end. A read of the
// output stream must hold each input message exactly once.
func TestNATSCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes and a nats-server for tens of seconds")
	}
	srv := natstest.Start(t)
	srv.CreateStream(t, "IN", "in.>")
	bin := buildWeir(t)
	cache, dir := t.TempDir(), t.TempDir()
	spec := func(parallelism int, stopAtEnd bool) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "job.yaml"), fmt.Appendf(nil, natsCrashSpec, parallelism, stopAtEnd), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func() *exec.Cmd {
		cmd := weirRun(bin, dir, cache)
		cmd.Env = append(os.Environ(), "WEIR_TEST_NATS="+srv.URL())
		return cmd
	}
	stop, published := make(chan struct{}), make(chan error, 1)
	go func() { published <- publishInput(srv.JetStream(t), stop) }()
	defer close(stop)

	const (
		minKills     = 10
		maxKillDelay = 800 * time.Millisecond
	)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	parallelism := make([]int, minKills+2)
	for i := range parallelism {
		parallelism[i] = 1 + rng.Intn(3)
	}
	runs := killRuns(t, seed, minKills, maxKillDelay, func(kill int) *exec.Cmd {
		spec(parallelism[kill], false)
		return run()
	})
	restores, rescales, last := restoredRuns(runs), 0, 0
	for i, r := range runs {
		kill := i + 1
		if r.restored && last > 0 && parallelism[last] != parallelism[kill] {
			rescales++
		}
		if r.checkpointed {
			last = kill
		}
	}

	// The broker restart: checkpoints start every 200 ms and the sink stages
	// and commits at each one, so a restart now lands while one is pending
	// or committing. The job must fail, retry and, once the server is back,
	// complete checkpoints again.
	spec(parallelism[minKills+1], false)
	cmd := run()
	running, done, stderr := startRun(t, cmd)
	r := &syncCmd{cmd: cmd, running: running, done: done, stderr: stderr}
	<-running
	if ok, err := waitCheckpoint(stderr, done); !ok {
		t.Fatalf("seed %d: the broker-restart run ended before its first checkpoint (%v):\n%s", seed, err, stderr)
	}
	before := strings.Count(stderr.String(), "checkpoint complete")
	time.Sleep(time.Duration(rng.Int63n(int64(200 * time.Millisecond))))
	srv.Restart(300 * time.Millisecond)
	if !waitCount(r, "checkpoint complete", before+2) {
		t.Fatalf("seed %d: no checkpoint completed after the nats-server restart:\n%s", seed, stderr)
	}
	failed := strings.Count(stderr.String(), "job attempt failed")
	cmd.Process.Signal(syscall.SIGKILL)
	<-done

	if err := <-published; err != nil {
		t.Fatalf("publishing the input: %v", err)
	}
	spec(2, true)
	out, err := run().CombinedOutput()
	if err != nil {
		t.Fatalf("seed %d: final run failed: %v\n%s", seed, err, out)
	}
	if !strings.Contains(string(out), "natscrash finished") {
		t.Fatalf("seed %d: the final run did not finish the job:\n%s", seed, out)
	}
	if restores < minKills/2 {
		t.Fatalf("seed %d: only %d of %d killed runs restored a checkpoint", seed, restores, minKills)
	}
	if rescales == 0 {
		t.Fatalf("seed %d: no run restored a checkpoint taken at another parallelism", seed)
	}

	want, got := srv.Values(t, "IN"), srv.Values(t, "OUT")
	if len(want) != natsCrashRecords {
		t.Fatalf("stream IN holds %d messages, published %d", len(want), natsCrashRecords)
	}
	sort.Strings(want)
	sort.Strings(got)
	lost, dup := lostDuplicated(got, want)
	t.Logf("seed %d: %d kills (%d runs restored a checkpoint, %d at another parallelism), 1 nats-server restart during checkpoints (%d failed attempts before it was ridden out); stream read: OUT %d messages, model (IN) %d: lost = %d, duplicated = %d",
		seed, minKills+1, restores, rescales, failed, len(got), len(want), lost, dup)
	if lost != 0 || dup != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seed %d: the output stream differs from the model: %s", seed, lineDiff(got, want))
	}
	if n := len(srv.Values(t, "WEIR_STAGING")); n != 0 {
		t.Errorf("seed %d: %d messages left in the staging stream", seed, n)
	}
}
