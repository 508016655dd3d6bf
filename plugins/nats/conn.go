package nats

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultURLEnv is the environment variable that holds the server URL when a
// spec gives neither url nor urlEnv.
const DefaultURLEnv = "WEIR_NATS_URL"

// Connection limits.
const (
	// reconnectWait is the pause between reconnect attempts: short, so that a
	// broker restart costs about this much rather than nats.go's 2 s default.
	reconnectWait = 250 * time.Millisecond
	// requestTimeout bounds one JetStream API request (stream info, purge).
	requestTimeout = 10 * time.Second
	// maxNameBytes bounds stream names and ids, which become subject tokens.
	maxNameBytes = 64
)

// ConnOptions are the connection options shared by the source and the sink.
type ConnOptions struct {
	// URL is the server URL (nats://host:4222; several separated by ',').
	URL string `json:"url"`
	// URLEnv names the environment variable that holds the URL (default
	// WEIR_NATS_URL). Use it for a URL with credentials.
	URLEnv string `json:"urlEnv"`
}

// resolve returns the URL, or reports a bad option. Errors never show a URL
// read from the environment: it may hold credentials.
func (o ConnOptions) resolve(bad func(option, format string, args ...any)) string {
	switch {
	case o.URL != "" && o.URLEnv != "":
		bad("urlEnv", "give url or urlEnv, not both")
		return ""
	case o.URL != "":
		return o.URL
	}
	env := o.URLEnv
	if env == "" {
		env = DefaultURLEnv
	}
	u := os.Getenv(env)
	if u == "" {
		bad("urlEnv", "environment variable %s is not set or empty (it holds the server URL; or give option url)", env)
	}
	return u
}

// Connect opens a connection named name to the NATS server at url, and its
// JetStream context, that reconnects without limit (every reconnectWait): a
// broker restart fails the calls in flight (which fail the job attempt, and
// the job restarts from its checkpoint) but not the connection. The source,
// the sink, the ingest and the cluster's own buckets (natskv, natsobj) all
// connect with it.
func Connect(url, name string, extra ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts := append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait)}, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return nc, js, nil
}

// checkToken checks a name that becomes a stream name or a subject token:
// 1..64 bytes of letters, digits, '-' and '_'.
func checkToken(name string) error {
	if name == "" {
		return errors.New("required")
	}
	if len(name) > maxNameBytes {
		return fmt.Errorf("%q is longer than %d bytes", name, maxNameBytes)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%q has %q; use letters, digits, '-' and '_'", name, c)
		}
	}
	return nil
}

// checkSubject checks a subject or subject filter: dot-separated non-empty
// tokens without spaces; wildcards ('*' a token, '>' the last) only if
// wildcards is true.
func checkSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("required")
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("%q has an empty token", s)
		case strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("%q has white space", s)
		case tok == "*" || tok == ">" && i == len(toks)-1:
			if !wildcards {
				return fmt.Errorf("%q has wildcard %q; give a literal subject", s, tok)
			}
		case strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("%q: wildcard in token %q (use '*' for a whole token, '>' only last)", s, tok)
		}
	}
	return nil
}

// parseDuration parses an optional duration option, with def when empty.
func parseDuration(bad func(option, format string, args ...any), option, v string, def time.Duration) time.Duration {
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		bad(option, "%q is not a positive duration (like 100ms or 2s)", v)
		return def
	}
	return d
}
