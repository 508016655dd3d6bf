package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"

	weirv1 "github.com/weirstream/weir/runtime/api/weirv1"
	"github.com/weirstream/weir/runtime/api/weirv1/weirv1connect"
)

// scaleSpec is a small job of the poison operator: the config "reject" fails
// every record into the DLQ, "echo" passes them on.
const scaleSpec = `name: %s
parallelism: 1
checkpoint: {interval: 300ms}
sources:
  - name: events
    kind: datagen
    options: {seed: 1, count: %d, keys: 10, valueBytes: 24, rate: %d}
operators:
  - name: check
    module: poison
    config: %s
    limits: {memory: 64MiB}
    inputs: [{from: events, partition: keyBy}]
    onFailure: {policy: dlq}
sinks:
  - name: out
    kind: discard
    from: check
`

// Sizes of TestDashboardScale: more jobs than a page of the dashboard's job
// list (50 rows) holds, and a large DLQ.
const (
	scaleBatchJobs   = 59 // plus "rejects" and "live": 61 jobs, 2 pages
	scaleDeadLetters = 10_000
	scalePage        = 50 // the dashboard's PAGE_SIZE
)

// TestDashboardScale drives the dashboard against a `weir server` with 61
// jobs, one of which has 10 000 dead letters: the job list and the DLQ view
// show the first page of what the server pages and filters, page on, and
// filter in the server (the rows are those the API gives for the same page
// and filter). It logs how long the pages took to show their first rows.
func TestDashboardScale(t *testing.T) {
	s, dir := poisonServer(t)
	submit := func(name string, count, rate int, config string) string {
		t.Helper()
		spec := filepath.Join(dir, name+".yaml")
		os.WriteFile(spec, []byte(fmt.Sprintf(scaleSpec, name, count, rate, config)), 0o644)
		return strings.TrimSpace(s.mustCLI("job", "submit", spec))
	}
	rejects := submit("rejects", scaleDeadLetters, 0, "reject")
	live := submit("live", 0, 20, "echo")
	for i := 0; i < scaleBatchJobs; i++ {
		submit(fmt.Sprintf("batch-%02d", i), 10, 0, "echo")
	}

	ctx := context.Background()
	jobs := weirv1connect.NewJobServiceClient(http.DefaultClient, s.url())
	dlq := weirv1connect.NewDLQServiceClient(http.DefaultClient, s.url())
	listJobs := func(f *weirv1.JobFilter, size int32, token string) *weirv1.ListJobsResponse {
		t.Helper()
		res, err := jobs.List(ctx, connect.NewRequest(&weirv1.ListJobsRequest{Filter: f, PageSize: size, PageToken: token}))
		if err != nil {
			t.Fatalf("JobService.List: %v", err)
		}
		return res.Msg
	}
	listDLQ := func(text, token string) *weirv1.ListDeadLettersResponse {
		t.Helper()
		var f *weirv1.DeadLetterFilter
		if text != "" {
			f = &weirv1.DeadLetterFilter{Text: text}
		}
		res, err := dlq.List(ctx, connect.NewRequest(&weirv1.ListDeadLettersRequest{Job: rejects, Filter: f, PageSize: scalePage, PageToken: token, OmitValues: true}))
		if err != nil {
			t.Fatalf("DLQService.List: %v", err)
		}
		return res.Msg
	}
	// Every record of "rejects" is dead-lettered and every job but "live"
	// finishes.
	running := &weirv1.JobFilter{States: []weirv1.JobState{weirv1.JobState_JOB_STATE_RUNNING}}
	start := time.Now()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		n, r := listDLQ("", "").Matching, listJobs(running, 0, "")
		if n == scaleDeadLetters && r.Matching == 1 && r.Jobs[0].Id == live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes: %d dead letters, want %d; running jobs: %d, want only %s\nserver log:\n%s", n, scaleDeadLetters, r.Matching, live, s.stderr)
		}
	}
	t.Logf("%d dead letters and %d finished jobs after %v", scaleDeadLetters, scaleBatchJobs+1, time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		name string
		call func()
	}{
		{"JobService.List, a page of 50 of 61", func() { listJobs(nil, scalePage, "") }},
		{"DLQService.List, a page of 50 of 10 000", func() { listDLQ("", "") }},
		{"DLQService.List, filtered", func() { listDLQ("class-42", "") }},
	} {
		t0 := time.Now()
		c.call()
		t.Logf("%s: %v", c.name, time.Since(t0).Round(time.Microsecond))
	}
	// Bad pages are refused, naming the field.
	for _, c := range []struct {
		name  string
		req   *weirv1.ListJobsRequest
		field string
	}{
		{"page too large", &weirv1.ListJobsRequest{PageSize: 1001}, "page_size"},
		{"negative page", &weirv1.ListJobsRequest{PageSize: -1}, "page_size"},
		{"token not given out", &weirv1.ListJobsRequest{PageToken: "x"}, "page_token"},
		{"token with a path", &weirv1.ListJobsRequest{PageToken: "1/../../etc"}, "page_token"},
	} {
		_, err := jobs.List(ctx, connect.NewRequest(c.req))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.field) {
			t.Errorf("JobService.List, %s: %v, want invalid_argument naming %s", c.name, err, c.field)
		}
	}
	br := newBrowser(t, s)
	// waitRows waits until the table shows the rows want (ids in order).
	waitRows := func(what, sel, attr string, want []string) {
		t.Helper()
		js, _ := json.Marshal(append([]string{}, want...))
		br.poll(what, fmt.Sprintf(`JSON.stringify([...document.querySelectorAll(%q)].map((e) => e.getAttribute(%q))) === %q`, sel, attr, js))
	}
	jobIDs := func(r *weirv1.ListJobsResponse) []string {
		var out []string
		for _, j := range r.Jobs {
			out = append(out, j.Id)
		}
		return out
	}
	dlqIDs := func(r *weirv1.ListDeadLettersResponse) []string {
		var out []string
		for _, d := range r.Entries {
			out = append(out, fmt.Sprint(d.Id))
		}
		return out
	}
	setInput := func(sel, value, event string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event(%q)); })()`, sel, value, event))
	}

	// The job list: the first page, then the second; together every job once.
	page1 := listJobs(nil, scalePage, "")
	page2 := listJobs(nil, scalePage, page1.NextPageToken)
	if page1.Matching != scaleBatchJobs+2 || len(page1.Jobs) != scalePage || len(page2.Jobs) != scaleBatchJobs+2-scalePage || page2.NextPageToken != "" {
		t.Fatalf("JobService.List: pages of %d and %d jobs (next %q), %d matching; want %d, %d, none, %d",
			len(page1.Jobs), len(page2.Jobs), page2.NextPageToken, page1.Matching, scalePage, scaleBatchJobs+2-scalePage, scaleBatchJobs+2)
	}
	br.run("start the browser", chromedp.Navigate("about:blank"))
	t0 := time.Now()
	br.run("job list", chromedp.Navigate(s.url()+"/ui/#/jobs"))
	waitRows("the first page of jobs", "#jobs tbody tr", "data-job", jobIDs(page1))
	t.Logf("job list: the first page of %d jobs showed %v after the page was asked for", page1.Matching, time.Since(t0).Round(time.Millisecond))
	if p := br.text("pager", "#pager"); !strings.Contains(p, "page 1 of 2") {
		t.Errorf("job list pager %q, want page 1 of 2", p)
	}
	br.run("screenshot", br.shot("scale-jobs"))
	br.run("next page of jobs", chromedp.Click(css("#next")))
	waitRows("the second page of jobs", "#jobs tbody tr", "data-job", jobIDs(page2))
	if all := append(jobIDs(page1), jobIDs(page2)...); len(slices.Compact(slices.Sorted(slices.Values(all)))) != scaleBatchJobs+2 {
		t.Errorf("the two pages of jobs repeat a job: %v", all)
	}

	// Filters go to the server: by text, then by state.
	batch4 := listJobs(&weirv1.JobFilter{Text: "batch-4"}, scalePage, "")
	if batch4.Matching != 10 {
		t.Errorf("JobService.List filtered by batch-4: %d matching, want 10", batch4.Matching)
	}
	br.run("filter jobs", setInput("#filter", "batch-4", "input"))
	waitRows("jobs filtered by text", "#jobs tbody tr", "data-job", jobIDs(batch4))
	br.poll("filtered count", `document.querySelector("h2").textContent === "Jobs (10)"`)
	br.run("filter by state", setInput("#filter", "", "input"), setInput("#state-filter", "JOB_STATE_RUNNING", "change"))
	waitRows("running jobs", "#jobs tbody tr", "data-job", []string{live})

	// The DLQ: 10 000 entries, 50 a page.
	d1 := listDLQ("", "")
	d2 := listDLQ("", d1.NextPageToken)
	t0 = time.Now()
	br.run("dlq view", chromedp.Navigate(s.url()+"/ui/#/dlq/"+rejects))
	waitRows("the first page of dead letters", "#dlq tbody tr", "data-dlq", dlqIDs(d1))
	t.Logf("DLQ view: the first page of %d entries showed %v after the page was asked for", d1.Matching, time.Since(t0).Round(time.Millisecond))
	if h := br.text("dlq heading", "h2"); !strings.Contains(h, fmt.Sprintf("(%d matching", scaleDeadLetters)) {
		t.Errorf("DLQ heading %q, want %d matching", h, scaleDeadLetters)
	}
	if p := br.text("dlq pager", "#dlq-pager"); !strings.Contains(p, fmt.Sprintf("page 1 of %d", scaleDeadLetters/scalePage)) {
		t.Errorf("DLQ pager %q, want page 1 of %d", p, scaleDeadLetters/scalePage)
	}
	br.run("next page of dead letters", chromedp.Click(css("#dlq-next")))
	waitRows("the second page of dead letters", "#dlq tbody tr", "data-dlq", dlqIDs(d2))

	// Records i with i % 100 == 42 fail with "(class-42)": 100 entries, 2 pages.
	f1 := listDLQ("class-42", "")
	f2 := listDLQ("class-42", f1.NextPageToken)
	if f1.Matching != scaleDeadLetters/100 || len(f1.Entries) != scalePage || len(f2.Entries) != scalePage || f2.NextPageToken != "" {
		t.Fatalf("DLQService.List filtered by class-42: %d matching, pages of %d and %d (next %q); want %d, %d, %d, none",
			f1.Matching, len(f1.Entries), len(f2.Entries), f2.NextPageToken, scaleDeadLetters/100, scalePage, scalePage)
	}
	for _, d := range append(f1.Entries, f2.Entries...) {
		if !strings.Contains(d.Error, "(class-42)") {
			t.Fatalf("DLQService.List filtered by class-42 gave entry %d: %s", d.Id, d.Error)
		}
	}
	br.run("filter dead letters", setInput("#dlq-filter", "class-42", "input"))
	waitRows("dead letters filtered", "#dlq tbody tr", "data-dlq", dlqIDs(f1))
	br.poll("filtered dead letters counted", `document.querySelector("h2").textContent.includes("(100 matching")`)
	br.run("screenshot", br.shot("scale-dlq"))
	br.run("next filtered page", chromedp.Click(css("#dlq-next")))
	waitRows("the second filtered page", "#dlq tbody tr", "data-dlq", dlqIDs(f2))
	br.poll("last page", `document.getElementById("dlq-next").disabled`)
}
