package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// memoryBudgetFlag registers -memory-budget on fs; budget turns its value
// into the process's guest memory budget.
type memoryBudgetFlag struct{ s string }

func (f *memoryBudgetFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&f.s, "memory-budget", envOr("WEIR_MEMORY_BUDGET", ""),
		fmt.Sprintf("total guest memory of all operator instances of the process, e.g. 8GiB; an instance that would exceed it is refused (env WEIR_MEMORY_BUDGET; default %.0f%% of the machine's memory, %s here)",
			host.DefaultMemoryBudgetFraction*100, host.FormatBytes(host.DefaultMemoryBudgetBytes())))
}

func (f *memoryBudgetFlag) budget() (*host.MemoryBudget, error) {
	if f.s == "" {
		return host.NewMemoryBudget(0), nil
	}
	n, err := jobspec.ParseSize(f.s)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("%w: -memory-budget %q: want a positive size such as 8GiB", errUsage, f.s)
	}
	return host.NewMemoryBudget(n), nil
}

// guestMemoryFactory is an operator factory that knows how much memory each of
// its instances reserves of the budget (host.Module, extism.Plugin).
type guestMemoryFactory interface{ GuestMemoryBytes() int64 }

// checkMemoryBudget fails if the instances of job's operators could together
// grow their memories past budget, naming each operator's share, so that a
// run that would be refused an instance says so before it starts.
func checkMemoryBudget(job *runtime.Job, budget *host.MemoryBudget) error {
	var need int64
	var parts []string
	for _, op := range job.Operators {
		f, ok := op.Factory.(guestMemoryFactory)
		if !ok {
			continue
		}
		n := max(op.Parallelism, 1)
		need += int64(n) * f.GuestMemoryBytes()
		parts = append(parts, fmt.Sprintf("operator %q: %d x %s", op.Name, n, host.FormatBytes(f.GuestMemoryBytes())))
	}
	if free := budget.Limit() - budget.Reserved(); need > free {
		return fmt.Errorf("job %q may use up to %s of guest memory (%s), more than the guest memory budget of %s allows (%s free); lower the parallelism or limits.memory of its operators, or raise -memory-budget",
			job.Name, host.FormatBytes(need), strings.Join(parts, ", "), host.FormatBytes(budget.Limit()), host.FormatBytes(free))
	}
	return nil
}

// guestMemoryLine renders the guest memory of job's operators for the
// progress line: "guest memory split 12MiB, count 40MiB", or "" if none.
func guestMemoryLine(job string, budget *host.MemoryBudget) string {
	var parts []string
	for _, u := range budget.Usage() {
		if u.Job == job {
			parts = append(parts, fmt.Sprintf("%s %s", u.Operator, host.FormatBytes(u.Bytes)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "guest memory " + strings.Join(parts, ", ")
}

// guestMemoryCollector exports a budget's usage as Prometheus gauges, read at
// each scrape.
type guestMemoryCollector struct {
	budget         *host.MemoryBudget
	bytes, limit   *prometheus.Desc
	reserved, inst *prometheus.Desc
}

func newGuestMemoryCollector(b *host.MemoryBudget) *guestMemoryCollector {
	labels := []string{"job", "operator"}
	return &guestMemoryCollector{
		budget:   b,
		bytes:    prometheus.NewDesc("weir_guest_memory_bytes", "Linear memory of an operator's live Wasm instances, summed.", labels, nil),
		reserved: prometheus.NewDesc("weir_guest_memory_reserved_bytes", "Guest memory budget held by an operator's live instances (what their memories may grow to).", labels, nil),
		inst:     prometheus.NewDesc("weir_guest_instances", "Live Wasm instances of an operator.", labels, nil),
		limit:    prometheus.NewDesc("weir_guest_memory_budget_bytes", "The process's guest memory budget (-memory-budget).", nil, nil),
	}
}

func (c *guestMemoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.reserved
	ch <- c.inst
	ch <- c.limit
}

func (c *guestMemoryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range c.budget.Usage() {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(u.Bytes), u.Job, u.Operator)
		ch <- prometheus.MustNewConstMetric(c.reserved, prometheus.GaugeValue, float64(u.ReservedBytes), u.Job, u.Operator)
		ch <- prometheus.MustNewConstMetric(c.inst, prometheus.GaugeValue, float64(u.Instances), u.Job, u.Operator)
	}
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(c.budget.Limit()))
}
