package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboardDLQ drives the dashboard's DLQ view in headless Chromium
// against a real `weir server` running a job with poison records: the job
// page links to its dead letters, the list shows them, an entry shows its
// context, and its value is edited and resubmitted from the page; the
// resubmitted record is then in the committed output once.
func TestDashboardDLQ(t *testing.T) {
	s, dir := poisonServer(t)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(dlqServerSpec), 0o644)
	job := strings.TrimSpace(s.mustCLI("job", "submit", spec))

	b := newBrowser(t, s)
	b.run("job page", chromedp.Navigate(s.url()+"/ui/#/jobs/"+job), chromedp.WaitVisible(css("#dlq-link")))
	b.poll("dead letters counted", `!/dead letters: 0$/.test(document.getElementById("dlq-link").textContent)`)
	b.run("dlq view", chromedp.Click(css("#dlq-link")), chromedp.WaitVisible(css("#dlq tbody tr")))
	attr, err := chromedp.Run(b.ctx, chromedp.AttributeValue(css("#dlq tbody tr"), "data-dlq"))
	if err != nil || attr.Value == "" {
		b.fail("first entry id", err)
	}
	first := attr.Value
	b.run("entry", chromedp.Click(css(fmt.Sprintf(`#dlq tr[data-dlq=%q] a`, first))), chromedp.WaitVisible(css("#dlq-value")), b.shot("dlq"))
	b.poll("entry context", `document.getElementById("dlq-error").textContent.includes("poison record") && document.getElementById("dlq-context").textContent.includes("check (subtask")`)
	orig, err := chromedp.Run(b.ctx, chromedp.Value(css("#dlq-value")))
	if err != nil || len(orig) < 20 {
		b.fail("value", err)
	}
	fixed := "fixed-" + orig
	b.run("edit", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const a = document.getElementById("dlq-value"); a.value = %q; a.dispatchEvent(new Event("input")); })()`, fixed)),
		chromedp.Click(css("#dlq-save")))
	b.poll("edit done", `document.getElementById("dlq-msg").textContent.startsWith("edit of `+first+`: done")`)
	if out := s.mustCLI("dlq", "get", job, first); !strings.Contains(out, fixed) {
		t.Fatalf("after the edit from the page, dlq get shows:\n%s", out)
	}
	b.run("resubmit", chromedp.Click(css("#dlq-resubmit")))
	b.poll("resubmit done", `document.getElementById("dlq-msg").textContent.startsWith("resubmit of `+first+`: done")`)
	b.poll("entry gone", `!document.querySelector('#dlq tr[data-dlq="`+first+`"]')`)
	b.run("screenshot", b.shot("dlq-after-resubmit"))
	s.mustCLI("job", "cancel", job, "--savepoint")
	n := 0
	for _, l := range committed(t, filepath.Join(dir, "data", "files")) {
		if _, v, _ := strings.Cut(l, "\t"); v == fixed {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the record resubmitted from the page is committed %d times, want once", n)
	}
}
