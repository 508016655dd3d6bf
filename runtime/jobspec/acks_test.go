package jobspec

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
)

type fakeAcks struct{ opts string }

func (fakeAcks) Deliver(context.Context, []runtime.AckBatch) error { return nil }

// TestAcks checks the acks field (docs/jobspec.md, "acks"): the registry's
// factory gets the options as JSON, and bad ones are errors with their place.
func TestAcks(t *testing.T) {
	reg := testRegistry()
	reg.Acks = map[string]AckFactory{"nats": func(opts json.RawMessage, _ string) (runtime.AckSink, error) {
		if strings.Contains(string(opts), "bad") {
			return nil, errors.New("option subject: bad")
		}
		return fakeAcks{string(opts)}, nil
	}}
	s, err := Parse([]byte(wordcount+"acks: {kind: nats, options: {stream: ACKS, subject: acks.orders}}\n"), "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job, err := s.Build(reg, "/specs")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := job.Acks, (fakeAcks{`{"stream":"ACKS","subject":"acks.orders"}`}); got != want {
		t.Errorf("job.Acks %#v, want %#v", got, want)
	}
	for _, tt := range []struct{ name, acks, want string }{
		{"no kind", `{options: {}}`, `acks: missing field "kind"`},
		{"not a mapping", `nats`, `acks`},
		{"options not a mapping", `{kind: nats, options: [1]}`, `acks.options: expected a mapping`},
		{"unknown field", `{kind: nats, target: x}`, `target`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(wordcount+"acks: "+tt.acks+"\n"), "job.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	for _, tt := range []struct{ name, acks, want string }{
		{"unknown kind", `{kind: kafka}`, `acks.kind: unknown ack target kind "kafka" (known: nats)`},
		{"bad options", `{kind: nats, options: {subject: bad}}`, `acks: options: option subject: bad`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(wordcount+"acks: "+tt.acks+"\n"), "job.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Build(reg, "/specs"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
