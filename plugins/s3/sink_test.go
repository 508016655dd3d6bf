package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/s3/miniotest"
	"github.com/weirstream/weir/runtime"
)

// TestSinkOptionErrors checks that bad options give errors naming the option.
func TestSinkOptionErrors(t *testing.T) {
	t.Setenv(EnvAccessKey, "k")
	t.Setenv(EnvSecretKey, "s")
	for _, tc := range []struct{ opts, want string }{
		{`{"bucket":"b-1"}`, "option endpoint: required"},
		{`{"endpoint":"h:1"}`, "option bucket: required"},
		{`{"endpoint":"h:1","bucket":"Bad_Bucket"}`, `option bucket: bucket "Bad_Bucket" has 'B'`},
		{`{"endpoint":"http://h:1","bucket":"b-1"}`, "option endpoint: endpoint \"http://h:1\": want host:port"},
		{`{"endpoint":"h:1","bucket":"b-1","format":"csv"}`, `option format: "csv" is not`},
		{`{"endpoint":"h:1","bucket":"b-1","prefix":".x"}`, "option prefix"},
		{`{"endpoint":"h:1","bucket":"b-1","path":"/abs"}`, "option path"},
		{`{"endpoint":"h:1","bucket":"b-1","partSizeMiB":1}`, "option partSizeMiB: 1 is not between 5 and 5120"},
		{`{"endpoint":"h:1","bucket":"b-1","partSize":1}`, `unknown field "partSize"`},
		{`{"endpoint":"h:1","bucket":"b-1","insecure":"yes"}`, "option insecure: got a JSON string, want"},
	} {
		_, err := NewSink(json.RawMessage(tc.opts), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSink(%s) = %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	t.Setenv(EnvAccessKey, "")
	if _, err := NewSink(json.RawMessage(`{"endpoint":"h:1","bucket":"b-1"}`), ""); err == nil || !strings.Contains(err.Error(), "option endpoint: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") {
		t.Errorf("without credentials: %v", err)
	}
}

// TestSinkMultipart writes one checkpoint of about 3.5 parts and checks that
// it is uploaded as several parts, invisible (an incomplete upload, no
// object) until Commit, and byte-exact after it; then that Recover aborts
// an upload left pending by a writer and leaves no incomplete upload.
func TestSinkMultipart(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: "mp", Format: "keyvalue", PartSizeMiB: minPartSizeMiB}, testConn(srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	w, err := s.OpenWriter(ctx, runtime.SinkInfo{Job: "j", Name: "out", Subtask: 3, Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	const records = 180_000 // 100-byte lines: about 17 MiB
	var want []string
	for i := 0; i < records; i += 1000 {
		var bw abi.Writer
		bw.Reset()
		for j := i; j < i+1000; j++ {
			k, v := fmt.Sprintf("k%07d", j), strings.Repeat(string(rune('a'+j%26)), 90)
			bw.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte(k), Value: []byte(v), Timestamp: abi.NoTimestamp})
			want = append(want, k+"\t"+v)
		}
		if err := w.Write(ctx, bw.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := w.PreCommit(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	var c committable
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c.Staged == "" || c.Records != records || c.Object != "mp/part-0000000007-0003" {
		t.Fatalf("committable: staged %q, %d records, object %q; want a staged object, %d records, mp/part-0000000007-0003", c.Staged, c.Records, c.Object, records)
	}
	if info, err := srv.Client().StatObject(ctx, srv.Bucket, c.Staged, minio.StatObjectOptions{}); err != nil || info.Size != c.Bytes {
		t.Fatalf("staged object %s: %d bytes, %v; want %d bytes", c.Staged, info.Size, err, c.Bytes)
	}
	if got := committedLines(t, srv, "mp/"); len(got) != 0 {
		t.Fatalf("before Commit %d lines are visible", len(got))
	}
	if err := s.Commit(ctx, 7, [][]byte{raw}); err != nil {
		t.Fatal(err)
	}
	got := committedLines(t, srv, "mp/")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after Commit: %d lines, want %d (or they differ)", len(got), len(want))
	}

	// A writer that pre-commits checkpoint 8 and dies: Recover(7) aborts it.
	w2, _ := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: 0, Parallelism: 1})
	var bw abi.Writer
	bw.Reset()
	bw.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte("x"), Value: []byte("lost"), Timestamp: abi.NoTimestamp})
	if err := w2.Write(ctx, bw.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := w2.PreCommit(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if err := s.Recover(ctx, 7, [][]byte{raw}); err != nil {
		t.Fatal(err)
	}
	if n := incompleteUploads(t, srv, "mp/"); n != 0 {
		t.Fatalf("after Recover %d incomplete uploads, want 0", n)
	}
	for o := range srv.Client().ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: "mp/" + PendingDir}) {
		t.Errorf("after Recover a pending marker is left: %s %v", o.Key, o.Err)
	}
	if got := committedLines(t, srv, "mp/"); len(got) != records {
		t.Fatalf("after Recover %d lines, want %d", len(got), records)
	}
}

// incompleteUploads counts the multipart uploads of the keys the sink in
// path may use for checkpoints 1 to 10 and subtasks 0 to 3 (MinIO lists the
// uploads of one exact key only).
func incompleteUploads(t *testing.T, srv *miniotest.Server, path string) int {
	t.Helper()
	n := 0
	for ck := 1; ck <= 10; ck++ {
		for st := 0; st < 4; st++ {
			key := fmt.Sprintf("%spart-%010d-%04d", path, ck, st)
			for u := range srv.Client().ListIncompleteUploads(context.Background(), srv.Bucket, key, false) {
				if u.Err != nil {
					t.Fatal(u.Err)
				}
				n++
			}
		}
	}
	return n
}

// TestSinkCommitsCarriedCommittable checks that the committable of an
// abandoned checkpoint, which the runtime carries into the next checkpoint,
// commits with it, and that a committable of a later checkpoint or another
// sink is refused with a reason.
func TestSinkCommitsCarriedCommittable(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: "carry"}, testConn(srv))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: 1, Parallelism: 2})
	var bw abi.Writer
	bw.Reset()
	bw.Append(abi.Entry{Kind: abi.KindRecord, Value: []byte("carried"), Timestamp: abi.NoTimestamp})
	if err := w.Write(ctx, bw.Bytes()); err != nil {
		t.Fatal(err)
	}
	c5, err := w.PreCommit(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 4, [][]byte{c5}); err == nil || !strings.Contains(err.Error(), "committable is of checkpoint 5") {
		t.Errorf("Commit(4) of a checkpoint-5 committable: %v", err)
	}
	other, _ := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: "elsewhere"}, testConn(srv))
	if err := other.Commit(ctx, 6, [][]byte{c5}); err == nil || !strings.Contains(err.Error(), "is not one of this sink") {
		t.Errorf("Commit by another sink: %v", err)
	}
	if err := s.Commit(ctx, 6, [][]byte{c5}); err != nil {
		t.Fatalf("Commit(6) of the carried checkpoint-5 committable: %v", err)
	}
	if got := committedLines(t, srv, "carry/"); strings.Join(got, ",") != "carried" {
		t.Fatalf("committed %q, want [carried]", got)
	}
	// Committing again (a retry, or Recover after a crash) is a no-op.
	if err := s.Recover(ctx, 6, [][]byte{c5}); err != nil {
		t.Fatal(err)
	}
	if got := committedLines(t, srv, "carry/"); len(got) != 1 {
		t.Fatalf("after Recover %d lines, want 1", len(got))
	}
}

// TestSinkOutputLost pre-commits a checkpoint, then takes its upload from the
// store behind the sink's back (as a single MinIO server killed while it
// completes one was seen to, docs/jobspec.md), and checks that Commit, and
// Recover of the same checkpoint after a restart, fail with an
// *OutputLostError that wraps runtime.ErrOutputLost (so the job does not
// restart) and names the bucket, the object key, the upload id and the
// checkpoint; and that nothing becomes visible.
func TestSinkOutputLost(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	core := minio.Core{Client: srv.Client()}
	for _, tc := range []struct {
		name string
		code string
		// legacy turns the committable into one of before staged objects: a
		// multipart upload (which Commit still completes).
		legacy bool
		// lose takes the staged object or the upload of c, or a part of it,
		// from the store.
		lose func(t *testing.T, c committable)
	}{
		{name: "staged object deleted", code: "NoSuchKey", lose: func(t *testing.T, c committable) {
			if err := srv.Client().RemoveObject(ctx, c.Bucket, c.Staged, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "upload aborted", code: "NoSuchUpload", legacy: true, lose: func(t *testing.T, c committable) {
			if err := core.AbortMultipartUpload(ctx, c.Bucket, c.Object, c.UploadID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "part replaced", code: "InvalidPart", legacy: true, lose: func(t *testing.T, c committable) {
			// NB: S3 has no call that deletes one part; one uploaded again
			// with other bytes has another ETag, and the part the committable
			// names is as gone as one the store lost.
			other := "not the sink's bytes\n"
			if _, err := core.PutObjectPart(ctx, c.Bucket, c.Object, c.UploadID, c.Parts[0].Number, strings.NewReader(other), int64(len(other)), minio.PutObjectPartOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := strings.ReplaceAll(tc.name, " ", "-")
			s, err := newSink(SinkOptions{Endpoint: srv.Addr, Insecure: true, Bucket: srv.Bucket, Path: path}, testConn(srv))
			if err != nil {
				t.Fatal(err)
			}
			w, _ := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: 2, Parallelism: 3})
			var bw abi.Writer
			bw.Reset()
			for _, v := range []string{"one", "two", "three"} {
				bw.Append(abi.Entry{Kind: abi.KindRecord, Value: []byte(v), Timestamp: abi.NoTimestamp})
			}
			if err := w.Write(ctx, bw.Bytes()); err != nil {
				t.Fatal(err)
			}
			raw, err := w.PreCommit(ctx, 5)
			if err != nil {
				t.Fatal(err)
			}
			var c committable
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			if tc.legacy {
				raw, c = legacyCommittable(t, srv, c)
				// An older committable still commits.
				if err := s.Commit(ctx, 5, [][]byte{raw}); err != nil {
					t.Fatal(err)
				}
				if got := committedLines(t, srv, path+"/"); strings.Join(got, ",") != "one,two,three" {
					t.Fatalf("older committable committed %q", got)
				}
				raw, c = legacyCommittable(t, srv, c)
				if err := srv.Client().RemoveObject(ctx, c.Bucket, c.Object, minio.RemoveObjectOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			tc.lose(t, c)

			for _, call := range []struct {
				name string
				run  func() error
			}{
				{"Commit", func() error { return s.Commit(ctx, 5, [][]byte{raw}) }},
				{"Recover", func() error { return s.Recover(ctx, 5, [][]byte{raw}) }},
			} {
				err := call.run()
				if err == nil {
					t.Fatalf("%s of a lost upload succeeded", call.name)
				}
				if !errors.Is(err, runtime.ErrOutputLost) {
					t.Errorf("%s: error does not wrap runtime.ErrOutputLost: %v", call.name, err)
				}
				var lost *OutputLostError
				if !errors.As(err, &lost) {
					t.Fatalf("%s: error is not an *OutputLostError: %v", call.name, err)
				}
				if got := minio.ToErrorResponse(lost.Err).Code; got != tc.code {
					t.Errorf("%s: the store answered %q, want %q", call.name, got, tc.code)
				}
				msg := err.Error()
				for _, want := range []string{
					"output of checkpoint 5 lost in the store",
					"part file s3://" + srv.Bucket + "/" + path + "/part-0000000005-0002",
					"subtask 2, 3 records",
					lostWhat(c),
					tc.code,
					"no restart can commit it",
				} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: error %q\ndoes not contain %q", call.name, msg, want)
					}
				}
			}
			if got := committedLines(t, srv, path+"/"); len(got) != 0 {
				t.Errorf("lines visible after a lost upload: %q", got)
			}
		})
	}
}

// lostWhat is what an *OutputLostError says is gone of c.
func lostWhat(c committable) string {
	if c.Staged != "" {
		return "staged object " + c.Staged + " is gone"
	}
	return "multipart upload " + c.UploadID + " is gone"
}

// legacyCommittable makes c, a committable of a staged object, into one of
// before staged objects, as PreCommit wrote them: an empty marker and a
// multipart upload of the object with the lines as its one part.
func legacyCommittable(t *testing.T, srv *miniotest.Server, c committable) ([]byte, committable) {
	t.Helper()
	ctx := context.Background()
	core := minio.Core{Client: srv.Client()}
	staged := c.Staged
	if staged == "" {
		staged = c.Object
	}
	obj, err := srv.Client().GetObject(ctx, c.Bucket, staged, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	marker := c.Object[:strings.LastIndexByte(c.Object, '/')+1] + PendingDir + c.Object[strings.LastIndexByte(c.Object, '/')+1:] + "." + c.Token
	if _, err := srv.Client().PutObject(ctx, c.Bucket, marker, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	id, err := core.NewMultipartUpload(ctx, c.Bucket, c.Object, minio.PutObjectOptions{UserMetadata: map[string]string{tokenMeta: c.Token}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := core.PutObjectPart(ctx, c.Bucket, c.Object, id, 1, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Staged, c.UploadID, c.Parts = "", id, []part{{Number: 1, ETag: p.ETag}}
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw, c
}
