package s3

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/s3/miniotest"
	"github.com/weirstream/weir/runtime"
)

// TestSinkCommitDuringMinIOShutdown stops a single MinIO server with SIGTERM
// (miniotest.Server.Shutdown, an operator's restart) at a random moment of a
// Commit of six checkpoint outputs, restarts it, and commits the same
// committables again, as Recover would: every round must end with all six
// objects committed.
//
// NB: a single MinIO server that gets SIGTERM while it completes a multipart
// upload can come back with the upload gone (NoSuchUpload) or listed without
// its parts (InvalidPart) and without the object. When the sink completed
// multipart uploads in Commit, this lost output in about 5 of 12 rounds (and
// failed TestS3CrashRecovery now and then). Commit now copies a staged object,
// which stays until the final object exists, so a cut-off copy is retried.
func TestSinkCommitDuringMinIOShutdown(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: "p", Format: "value"}, testConn(srv))
	if err != nil {
		t.Fatal(err)
	}
	const (
		rounds    = 12
		subtasks  = 6
		maxDelay  = 8 * time.Millisecond // a Commit of six small uploads takes a few ms
		downFor   = 300 * time.Millisecond
		lineCount = 30
	)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	lost := 0
	for round := int64(1); round <= rounds; round++ {
		var raws [][]byte
		for sub := range subtasks {
			w, err := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: sub, Parallelism: subtasks})
			if err != nil {
				t.Fatal(err)
			}
			var bw abi.Writer
			bw.Reset()
			for j := range lineCount {
				bw.Append(abi.Entry{Kind: abi.KindRecord, Value: fmt.Appendf(nil, "round %d subtask %d line %d", round, sub, j), Timestamp: abi.NoTimestamp})
			}
			if err := w.Write(ctx, bw.Bytes()); err != nil {
				t.Fatal(err)
			}
			raw, err := w.PreCommit(ctx, round)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
		done := make(chan error, 1)
		go func() { done <- s.Commit(ctx, round, raws) }()
		time.Sleep(time.Duration(rng.Int63n(int64(maxDelay))))
		srv.Shutdown()
		time.Sleep(downFor)
		srv.Restart()
		err := <-done
		if !errors.Is(err, runtime.ErrOutputLost) {
			err = s.Commit(ctx, round, raws) // as Recover does after a failed commit
		}
		if errors.Is(err, runtime.ErrOutputLost) {
			lost++
			t.Logf("round %d: %v", round, err)
		} else if err != nil {
			t.Fatalf("round %d: commit again after the restart: %v", round, err)
		}
	}
	if lost > 0 {
		t.Errorf("seed %d: %d of %d rounds lost a completed checkpoint's output to a SIGTERM of MinIO during Commit", seed, lost, rounds)
	}
}
