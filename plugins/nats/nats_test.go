package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/plugins/nats/natstest"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/conformance"
)

// streamSeq names a new target stream per subtest, so that subtests do not
// share output.
var streamSeq struct {
	sync.Mutex
	n map[string]string
}

func streamFor(t *testing.T) string {
	streamSeq.Lock()
	defer streamSeq.Unlock()
	if streamSeq.n == nil {
		streamSeq.n = map[string]string{}
	}
	if n, ok := streamSeq.n[t.Name()]; ok {
		return n
	}
	n := fmt.Sprintf("OUT%d", len(streamSeq.n))
	streamSeq.n[t.Name()] = n
	return n
}

func mustSink(t testing.TB, opts string) *Sink {
	t.Helper()
	s, err := NewSink(json.RawMessage(opts), "")
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

// TestSink runs the sink conformance suite against a real server, each
// subtest on its own target stream (created by the sink) and sink id.
func TestSink(t *testing.T) {
	srv := natstest.Start(t)
	conformance.TestSink(t,
		func(t *testing.T) runtime.Sink {
			st := streamFor(t)
			return mustSink(t, fmt.Sprintf(`{"url":%q,"stream":%q,"subject":"out.%s","createStream":true}`, srv.URL(), st, st))
		},
		func(t *testing.T) []string { return srv.Values(t, streamFor(t)) },
		conformance.SinkOptions{RollsBack: false},
	)
	// Every transaction was committed or aborted: nothing is left staged.
	if n := stagedMessages(t, srv); n != 0 {
		t.Errorf("%d messages left in the staging stream after the suite", n)
	}
}

func stagedMessages(t *testing.T, srv *natstest.Server) uint64 {
	t.Helper()
	st, err := srv.JetStream(t).Stream(context.Background(), DefaultStagingStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// writeRecords writes one batch of records "<tag>-<i>" with keys k<i>.
func writeRecords(t *testing.T, w runtime.SinkWriter, tag string, n int) {
	t.Helper()
	var b abi.Writer
	for i := range n {
		b.Append(abi.Entry{Kind: abi.KindRecord, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s-%d", tag, i), Timestamp: 1_700_000_000_000 + int64(i)})
	}
	if err := w.Write(context.Background(), b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestSinkCommitInterruptedBeforePurge checks the case the dedup ids are for:
// a commit that published every record but crashed before it purged the
// staging subject is repeated by Recover, and JetStream drops the repeats.
func TestSinkCommitInterruptedBeforePurge(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	opts := fmt.Sprintf(`{"url":%q,"stream":"EV","subject":"ev","createStream":true}`, srv.URL())
	s := mustSink(t, opts)
	w := conformance.StartSink(t, s)
	writeRecords(t, w, "a", 50)
	c, err := w.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Publish as a commit does, without the purge: the crash.
	var cm committable
	if err := json.Unmarshal(c, &cm); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	js, err := s.control(ctx)
	if err == nil {
		err = s.publishStaged(ctx, js, &cm)
	}
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	before := Metrics.SinkDuplicates.Load()
	if err := mustSink(t, opts).Recover(ctx, 1, [][]byte{c}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Values(t, "EV"); len(got) != 50 {
		t.Errorf("after a commit repeated by Recover the stream has %d messages, want 50", len(got))
	}
	if d := Metrics.SinkDuplicates.Load() - before; d != 50 {
		t.Errorf("the repeated commit counted %d duplicates, want 50", d)
	}
	if n := stagedMessages(t, srv); n != 0 {
		t.Errorf("%d staged messages left after Recover", n)
	}
}

// TestSinkHeadersAndKeySubject checks the message encoding: key and
// timestamp headers, a dedup id, and with keySubject the key as the last
// subject token.
func TestSinkHeadersAndKeySubject(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	s := mustSink(t, fmt.Sprintf(`{"url":%q,"stream":"KS","subject":"ks","keySubject":true,"createStream":true}`, srv.URL()))
	if err := s.Recover(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	w, err := s.OpenWriter(ctx, runtime.SinkInfo{Job: "j", Name: "out", Subtask: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeRecords(t, w, "v", 2)
	c, err := w.PreCommit(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 7, [][]byte{c}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages(t, "KS")
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	m := msgs[1]
	if m.Subject() != "ks.k1" || string(m.Data()) != "v-1" || m.Headers().Get(HeaderKey) != "k1" || m.Headers().Get(HeaderTimestamp) != "1700000000001" {
		t.Errorf("message: subject %q data %q headers %v", m.Subject(), m.Data(), m.Headers())
	}
	if id := m.Headers().Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "j/out/0/7/") || !strings.HasSuffix(id, "/1") {
		t.Errorf("Nats-Msg-Id %q, want j/out/0/7/<writer>-<txn>/1", id)
	}

	var b abi.Writer
	b.Append(abi.Entry{Kind: abi.KindRecord, Key: []byte("a.b"), Value: []byte("x")})
	if err := w.Write(ctx, b.Bytes()); err == nil || !strings.Contains(err.Error(), `batch entry 0 (key "a.b"): key has '.'`) {
		t.Errorf("a key with '.' under keySubject: got %v", err)
	}
}

// TestSinkDuplicateWindow checks that a target stream whose duplicate window
// is shorter than recovery needs is refused, naming the setting.
func TestSinkDuplicateWindow(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	if _, err := srv.JetStream(t).CreateStream(ctx, jetstream.StreamConfig{Name: "SHORT", Subjects: []string{"short"}, Duplicates: 20 * time.Second}); err != nil {
		t.Fatal(err)
	}
	s := mustSink(t, fmt.Sprintf(`{"url":%q,"stream":"SHORT","subject":"short"}`, srv.URL()))
	s.SetJobTiming(runtime.JobTiming{CheckpointInterval: time.Second, RestartDelay: time.Second})
	err := s.Recover(ctx, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "stream SHORT (option stream): its duplicate window (duplicate_window) is 20s, shorter than the 1m31s") || !strings.Contains(err.Error(), "restart.delay 1s") {
		t.Errorf("a 20s duplicate window: got %v", err)
	}
	s = mustSink(t, fmt.Sprintf(`{"url":%q,"stream":"MISSING","subject":"m"}`, srv.URL()))
	if err := s.Recover(ctx, 0, nil); err == nil || !strings.Contains(err.Error(), "stream MISSING (option stream)") {
		t.Errorf("a missing stream without createStream: got %v", err)
	}
}

func TestSinkOptionErrors(t *testing.T) {
	t.Setenv(DefaultURLEnv, "")
	tests := []struct{ opts, want string }{
		{`{"url":"nats://x","stream":"S","subject":"s","strem":"T"}`, `unknown field "strem"`},
		{`{"url":"nats://x","subject":"s"}`, "nats sink: option stream: required"},
		{`{"stream":"S","subject":"s"}`, "option urlEnv: environment variable WEIR_NATS_URL is not set"},
		{`{"url":"nats://x","urlEnv":"U","stream":"S","subject":"s"}`, "option urlEnv: give url or urlEnv, not both"},
		{`{"url":"nats://x","stream":"a.b","subject":"s"}`, `option stream: "a.b" has '.'`},
		{`{"url":"nats://x","stream":"S"}`, "option subject: required"},
		{`{"url":"nats://x","stream":"S","subject":"s.*"}`, `option subject: "s.*" has wildcard "*"`},
		{`{"url":"nats://x","stream":"S","subject":"s..t"}`, `option subject: "s..t" has an empty token`},
		{`{"url":"nats://x","stream":"S","subject":"s","id":"a b"}`, `option id: "a b" has ' '`},
		{`{"url":"nats://x","stream":"S","subject":"s","stagingStream":"S"}`, `option stagingStream: "S" is also the target stream`},
		{`{"url":"nats://x","stream":"S","subject":"s","maxPending":-3}`, "option maxPending: -3 is not in 1..1048576"},
	}
	for _, tt := range tests {
		_, err := NewSink(json.RawMessage(tt.opts), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}

// fillStream publishes n messages to stream IN on subjects in.0 .. in.3 in
// turn, half of them with key and timestamp headers; with multi, every fifth
// holds three records as lines (and a blank line).
func fillStream(t *testing.T, srv *natstest.Server, n int, multi bool) {
	t.Helper()
	ctx := context.Background()
	srv.CreateStream(t, "IN", "in.>")
	js := srv.JetStream(t)
	for i := range n {
		m := nats.NewMsg(fmt.Sprintf("in.%d", i%4))
		m.Data = fmt.Appendf(nil, "value-%d", i)
		if multi && i%5 == 0 {
			m.Header.Set(HeaderRecords, "lines")
			m.Data = fmt.Appendf(nil, "value-%d-a\n\nvalue-%d-b\nvalue-%d-c\n", i, i, i)
		}
		if i%2 == 0 {
			m.Header.Set(HeaderKey, fmt.Sprintf("key-%d", i%7))
			m.Header.Set(HeaderTimestamp, fmt.Sprint(1_700_000_000_000+i))
		}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSource runs the source conformance suite over a whole stream and over
// subject filters, with messages of one record and of several (lines), so
// that positions inside a message are resumed too.
func TestSource(t *testing.T) {
	srv := natstest.Start(t)
	fillStream(t, srv, 300, true)
	for _, tt := range []struct{ name, opts string }{
		{"whole stream", ``},
		{"subject filters", `,"subjects":["in.0","in.1","in.2","in.3"]`},
		{"wildcard filter", `,"subjects":["in.*"]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conformance.TestSource(t, func(t *testing.T) runtime.Source {
				s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"IN","stopAtEnd":true%s}`, srv.URL(), tt.opts)), "")
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// readAll reads r until io.EOF and returns the values.
func readAll(t *testing.T, r runtime.SplitReader) []string {
	t.Helper()
	var got []string
	for {
		var w abi.Writer
		_, err := r.Read(context.Background(), &w, 100)
		for rd := abi.NewReader(w.Bytes()); rd.Next(); {
			got = append(got, string(rd.Entry().Value))
		}
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSourceGap checks that messages deleted between checkpoints are
// reported: an error naming the sequences by default, skipped with onGap log.
func TestSourceGap(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	fillStream(t, srv, 20, false)
	open := func(onGap string, pos []byte) (runtime.SplitReader, error) {
		s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"IN","stopAtEnd":true,"onGap":%q}`, srv.URL(), onGap)), "")
		if err != nil {
			t.Fatal(err)
		}
		return s.Open(ctx, "IN", pos, runtime.SourceEnv{})
	}
	r, err := open(GapFail, nil)
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	for w.Count() < 5 {
		if _, err := r.Read(ctx, &w, 5-w.Count()); err != nil {
			t.Fatal(err)
		}
	}
	pos := r.Position() // after sequence 5
	r.Close()
	st, err := srv.JetStream(t).Stream(ctx, "IN")
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{7, 8} {
		if err := st.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	r, err = open(GapFail, pos)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		var w abi.Writer
		_, err := r.Read(ctx, &w, 100)
		for rd := abi.NewReader(w.Bytes()); rd.Next(); {
			got = append(got, string(rd.Entry().Value))
		}
		if err != nil {
			if !strings.Contains(err.Error(), "sequences 7..8 (2 messages) are missing") || !strings.Contains(err.Error(), "onGap: log") {
				t.Errorf("read over deleted sequences 7 and 8: got %v", err)
			}
			break
		}
	}
	if strings.Join(got, ",") != "value-5" {
		t.Errorf("before the gap read %q, want value-5 (sequence 6)", got)
	}
	r.Close()

	before := Metrics.SourceGapMessages.Load()
	r, err = open(GapLog, pos)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readAll(t, r); len(got) != 13 {
		t.Errorf("with onGap log read %d messages after sequence 5, want 13", len(got))
	}
	if d := Metrics.SourceGapMessages.Load() - before; d != 2 {
		t.Errorf("gap metric rose by %d, want 2", d)
	}

	// Retention removed the head of the stream past the position: also a gap.
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := open(GapFail, pos); err == nil || !strings.Contains(err.Error(), "sequences 6..9 (4 messages) are missing") {
		t.Errorf("open after a purge past the position: got %v", err)
	}
}

// TestSourceFollows checks that an unbounded reader returns messages
// published after it reached the end.
func TestSourceFollows(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	fillStream(t, srv, 2, false)
	s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"IN"}`, srv.URL())), "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "IN", nil, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	read := func(want int) {
		for len(got) < want {
			var w abi.Writer
			if _, err := r.Read(ctx, &w, 10); err != nil {
				t.Fatal(err)
			}
			for rd := abi.NewReader(w.Bytes()); rd.Next(); {
				got = append(got, string(rd.Entry().Value))
			}
		}
	}
	read(2)
	if _, err := srv.JetStream(t).Publish(ctx, "in.0", []byte("late")); err != nil {
		t.Fatal(err)
	}
	read(3)
	if strings.Join(got, ",") != "value-0,value-1,late" {
		t.Errorf("read %q", got)
	}
}

func TestSourceOptionErrors(t *testing.T) {
	tests := []struct{ opts, want string }{
		{`{"url":"nats://x"}`, "nats source: option stream: required"},
		{`{"url":"nats://x","stream":"S","subjects":["a","a"]}`, `option subjects[1]: "a" is given twice`},
		{`{"url":"nats://x","stream":"S","subjects":["a.>.b"]}`, `option subjects[0]: "a.>.b": wildcard in token`},
		{`{"url":"nats://x","stream":"S","onGap":"skip"}`, `option onGap: "skip" is not one of ["fail" "log"]`},
		{`{"url":"nats://x","stream":"S","readWait":"soon"}`, `option readWait: "soon" is not a positive duration`},
	}
	for _, tt := range tests {
		_, err := NewSource(json.RawMessage(tt.opts), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.opts, err, tt.want)
		}
	}
}

// TestSourceInsideMessage checks positions inside a message of lines: a
// reader opened there returns the rest of its lines, and reports a gap when
// the message was deleted meanwhile, also on a subject-filtered split.
func TestSourceInsideMessage(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	fillStream(t, srv, 6, true) // message 1 (in.0) holds three lines
	s, err := NewSource(json.RawMessage(fmt.Sprintf(`{"url":%q,"stream":"IN","subjects":["in.0"],"stopAtEnd":true}`, srv.URL())), "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, "IN:in.0", nil, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	var w abi.Writer
	for w.Count() < 1 {
		if _, err := r.Read(ctx, &w, 1); err != nil {
			t.Fatal(err)
		}
	}
	pos := r.Position()
	r.Close()
	if len(pos) != partialPositionBytes {
		t.Fatalf("position after 1 of 3 lines is %x, want 16 bytes", pos)
	}
	r, err = s.Open(ctx, "IN:in.0", pos, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, r); strings.Join(got, ",") != "value-0-b,value-0-c,value-4" {
		t.Errorf("resumed inside message 1: %q", got)
	}
	r.Close()
	st, err := srv.JetStream(t).Stream(ctx, "IN")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, 1); err != nil {
		t.Fatal(err)
	}
	r, err = s.Open(ctx, "IN:in.0", pos, runtime.SourceEnv{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var err2 error
	for err2 == nil {
		var w abi.Writer
		_, err2 = r.Read(ctx, &w, 10)
	}
	if !strings.Contains(err2.Error(), "sequences 1..1 (1 messages) are missing") {
		t.Errorf("resumed inside a deleted message: got %v", err2)
	}
}

// TestSinkStagedDataLost checks that a commit whose staged batches were
// partly deleted (limits or a hand on the staging stream) fails with
// runtime.ErrOutputLost, which stops the job instead of restarting it into
// the same loss; the records that remain are not published.
func TestSinkStagedDataLost(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	s := mustSink(t, fmt.Sprintf(`{"url":%q,"stream":"LOST","subject":"lost","createStream":true}`, srv.URL()))
	w := conformance.StartSink(t, s)
	writeRecords(t, w, "a", 10)
	writeRecords(t, w, "b", 10)
	c, err := w.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := srv.JetStream(t).Stream(ctx, DefaultStagingStream)
	if err != nil {
		t.Fatal(err)
	}
	var cm committable
	if err := json.Unmarshal(c, &cm); err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, cm.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(ctx, m.Sequence); err != nil {
		t.Fatal(err)
	}
	err = s.Commit(ctx, 1, [][]byte{c})
	if !errors.Is(err, runtime.ErrOutputLost) {
		t.Fatalf("Commit with a staged batch deleted: %v, want one that wraps runtime.ErrOutputLost", err)
	}
	if !strings.Contains(err.Error(), "holds 1 of the transaction's 2 batches") {
		t.Errorf("error %q does not say how many batches are left", err)
	}
	if got := srv.Values(t, "LOST"); len(got) != 0 {
		t.Errorf("the target stream holds %d messages of a lost transaction, want 0", len(got))
	}
}
