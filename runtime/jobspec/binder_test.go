package jobspec

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/runtime"
)

// bindingSink is a fake sink that implements runtime.JobBinder: it records
// what it was bound to and refuses a checkpoint interval over its limit.
type bindingSink struct {
	fakeSink
	limit    time.Duration
	job      string
	node     string
	interval time.Duration
}

func (s *bindingSink) BindJob(job *runtime.Job, node string) error {
	s.job, s.node, s.interval = job.Name, node, job.Checkpoint.Interval
	if job.Checkpoint.Interval > s.limit {
		return fmt.Errorf("option limit: %v is shorter than checkpoint.interval %v", s.limit, job.Checkpoint.Interval)
	}
	return nil
}

// TestBindJob checks that Build binds a JobBinder sink to the job, with the
// job's defaults applied, and reports its error at the sink's options.
func TestBindJob(t *testing.T) {
	reg := testRegistry()
	var built *bindingSink
	reg.Sinks["binding"] = func(opts json.RawMessage, _ string) (runtime.Sink, error) {
		built = &bindingSink{limit: 10 * time.Second}
		return built, nil
	}
	spec := func(interval string) string {
		ckpt := ""
		if interval != "" {
			ckpt = "checkpoint: {interval: " + interval + "}\n"
		}
		return "name: bound\n" + ckpt + `sources:
  - {name: in, kind: datagen}
sinks:
  - {name: out, kind: binding, inputs: [{from: in}], options: {}}
`
	}
	s, err := Parse([]byte(spec("")), "bound.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(reg, "/specs"); err != nil {
		t.Fatal(err)
	}
	if built.job != "bound" || built.node != "out" || built.interval != runtime.DefaultCheckpointInterval {
		t.Errorf("bound to job %q node %q interval %v; want bound, out and the default %v", built.job, built.node, built.interval, runtime.DefaultCheckpointInterval)
	}
	s, err = Parse([]byte(spec("1m")), "bound.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Build(reg, "/specs")
	if err == nil || !strings.Contains(err.Error(), "sinks[0] (out)") || !strings.Contains(err.Error(), "option limit: 10s is shorter than checkpoint.interval 1m0s") {
		t.Errorf("Build with checkpoint.interval 1m: error %v; want the sink's BindJob error at sinks[0] (out)", err)
	}
}
