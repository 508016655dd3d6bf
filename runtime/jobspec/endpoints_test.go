package jobspec

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
)

type fakeCaller []Endpoint

func (fakeCaller) Call(context.Context, string, []byte, []byte) (runtime.CallResponse, error) {
	return runtime.CallResponse{}, nil
}

// TestEndpoints checks the endpoints field (docs/jobspec.md, "endpoints"):
// the registry's NewCaller gets them as written, and bad ones are errors
// with their place.
func TestEndpoints(t *testing.T) {
	spec := wordcount + `endpoints:
  - {name: payments, url: "https://pay.example/v1", timeout: 2s, maxConcurrency: 8, journalTTL: 72h}
  - {name: geo, url: "http://geo:8080/"}
`
	s, err := Parse([]byte(spec), "job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry()
	if _, err := s.Build(reg, "/specs"); err == nil || !strings.Contains(err.Error(), "cannot make external calls") {
		t.Errorf("Build without NewCaller: %v; want an error", err)
	}
	reg.NewCaller = func(eps []Endpoint) (runtime.Caller, error) { return fakeCaller(eps), nil }
	job, err := s.Build(reg, "/specs")
	if err != nil {
		t.Fatal(err)
	}
	want := fakeCaller{{"payments", "https://pay.example/v1", 2 * time.Second, 8, 72 * time.Hour}, {"geo", "http://geo:8080/", 0, 0, 0}}
	if got := job.Caller; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("caller endpoints %v, want %v", got, want)
	}
	// geo keeps the default TTL (runtime.DefaultCallJournalTTL).
	if got, want := fmt.Sprint(job.CallJournalTTL), fmt.Sprint(map[string]time.Duration{"payments": 72 * time.Hour}); got != want {
		t.Errorf("call journal TTLs %s, want %s", got, want)
	}

	for _, tt := range []struct{ name, endpoints, want string }{
		{"no url", `[{name: a}]`, `endpoints[0]: missing field "url"`},
		{"no name", `[{url: "http://x"}]`, `endpoints[0]: missing field "name"`},
		{"relative url", `[{name: a, url: /x}]`, `endpoints[0].url: "/x" is not an absolute http or https URL`},
		{"twice", `[{name: a, url: "http://x"}, {name: a, url: "http://y"}]`, `endpoints[1].name: endpoint "a" is defined twice`},
		{"concurrency", `[{name: a, url: "http://x", maxConcurrency: 0}]`, `endpoints[0].maxConcurrency`},
		{"timeout", `[{name: a, url: "http://x", timeout: 0s}]`, `endpoints[0].timeout`},
		{"journal ttl zero", `[{name: a, url: "http://x", journalTTL: 0s}]`, `endpoints[0].journalTTL`},
		{"journal ttl too long", `[{name: a, url: "http://x", journalTTL: 9000h}]`, `endpoints[0].journalTTL: 9000h0m0s is longer than 8784h0m0s`},
		{"unknown field", `[{name: a, url: "http://x", retries: 3}]`, `retries`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(wordcount+"endpoints: "+tt.endpoints+"\n"), "job.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
