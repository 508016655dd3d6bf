package natstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirstream/weir/plugins/nats/embedded"
)

// readIdle is how long Messages waits for one more message once the stream's
// last sequence has been reached or nothing arrives.
const readIdle = 2 * time.Second

// Server is a running (or stopped) test server.
type Server struct {
	t testing.TB
	*embedded.Server
}

// Start starts a server for t; it is stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	e, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, Server: e}
	t.Cleanup(e.Stop)
	return s
}

// Restart stops the server and starts it again on the same port and store,
// as a broker restart that clients must ride out.
func (s *Server) Restart(down time.Duration) {
	s.t.Helper()
	s.Stop()
	time.Sleep(down)
	if err := s.Server.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// JetStream connects to the server; the connection closes when the test ends.
func (s *Server) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// CreateStream creates (or updates) a file stream on subjects.
func (s *Server) CreateStream(t testing.TB, name string, subjects ...string) {
	t.Helper()
	if _, err := s.JetStream(t).CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{Name: name, Subjects: subjects}); err != nil {
		t.Fatal(err)
	}
}

// Messages reads every message of stream (nil for a missing stream), in
// stream order: the committed output as a stream read sees it.
func (s *Server) Messages(t testing.TB, stream string) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	js := s.JetStream(t)
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for uint64(len(out)) < info.State.Msgs {
		b, err := c.Fetch(int(min(1000, info.State.Msgs-uint64(len(out)))), jetstream.FetchMaxWait(readIdle))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range b.Messages() {
			out = append(out, m)
			n++
		}
		if b.Error() != nil && !errors.Is(b.Error(), nats.ErrTimeout) {
			t.Fatal(b.Error())
		}
		if n == 0 {
			t.Fatalf("stream %s: read %d of its %d messages, then nothing for %v", stream, len(out), info.State.Msgs, readIdle)
		}
	}
	return out
}

// Values returns the data of every message of stream, as strings.
func (s *Server) Values(t testing.TB, stream string) []string {
	t.Helper()
	var v []string
	for _, m := range s.Messages(t, stream) {
		v = append(v, string(m.Data()))
	}
	return v
}
