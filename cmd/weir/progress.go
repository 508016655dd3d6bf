package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
)

// progress prints a live line on stderr: records in and out per second, totals,
// and the last checkpoint. On a terminal it rewrites one line; otherwise it
// prints a line per interval.
type progress struct {
	job      *runtime.Job
	x        *runtime.Execution
	budget   *host.MemoryBudget // guest memory of the job's instances
	w        io.Writer
	every    time.Duration
	terminal bool
	done     chan struct{}
	wg       sync.WaitGroup
	lastIn   int64
	lastOut  int64
	lastAt   time.Time
}

func newProgress(job *runtime.Job, x *runtime.Execution, budget *host.MemoryBudget, w io.Writer, every time.Duration) *progress {
	return &progress{job: job, x: x, budget: budget, w: w, every: every, terminal: isTerminal(w), done: make(chan struct{})}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// totals returns the records read by all sources and written by all sinks.
func (p *progress) totals() (in, out int64) {
	recs := p.x.Stats().Records()
	for _, s := range p.job.Sources {
		in += recs[s.Name]
	}
	for _, s := range p.job.Sinks {
		out += recs[s.Name]
	}
	return in, out
}

func (p *progress) start() {
	if p.every <= 0 {
		return
	}
	p.lastAt = time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case now := <-t.C:
				p.print(now)
			}
		}
	}()
}

func (p *progress) print(now time.Time) {
	in, out := p.totals()
	secs := now.Sub(p.lastAt).Seconds()
	rin, rout := float64(in-p.lastIn)/secs, float64(out-p.lastOut)/secs
	p.lastIn, p.lastOut, p.lastAt = in, out, now
	pr := p.x.Progress()
	ckpt := "no checkpoint yet"
	if pr.LastCheckpoint > 0 {
		ckpt = fmt.Sprintf("checkpoint %d %s ago", pr.LastCheckpoint, now.Sub(pr.LastCheckpointAt).Truncate(100*time.Millisecond))
	} else if pr.Restored > 0 {
		ckpt = fmt.Sprintf("restored checkpoint %d", pr.Restored)
	}
	line := fmt.Sprintf("%s: in %s rec/s, out %s rec/s | total in %s, out %s | %s", p.job.Name, human(rin), human(rout), human(float64(in)), human(float64(out)), ckpt)
	if pr.Attempt > 0 {
		line += fmt.Sprintf(" | restarts %d", pr.Attempt)
	}
	if mem := guestMemoryLine(p.job.Name, p.budget); mem != "" {
		line += " | " + mem
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) stop() {
	if p.every <= 0 {
		return
	}
	close(p.done)
	p.wg.Wait()
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// summary prints how the run ended.
func (p *progress) summary(res runtime.Result, err error, took time.Duration) {
	in, out := p.totals()
	var how string
	switch {
	case err != nil:
		how = "failed"
	case res.Finished:
		how = "finished"
	default:
		how = "stopped"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s after %s: %s records in, %s out (%s rec/s in)", p.job.Name, how, took.Truncate(time.Millisecond), human(float64(in)), human(float64(out)), human(float64(in)/took.Seconds()))
	if res.LastCheckpoint > 0 {
		fmt.Fprintf(&b, "; last checkpoint %d", res.LastCheckpoint)
	}
	if res.Restarts > 0 {
		fmt.Fprintf(&b, "; %d restarts", res.Restarts)
	}
	if !res.Finished && err == nil {
		b.WriteString("; rerun the same command to resume")
	}
	fmt.Fprintln(p.w, b.String())
}

// human renders n with a k/M/G suffix.
func human(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", n/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
