package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// TestDashboardDLQ drives the dashboard's DLQ view in headless Chromium
// against a real `weir server` running a job with poison records: the job
// page links to its dead letters, the list shows them, an entry shows its
// context, and its value is edited and resubmitted from the page; the
// resubmitted record is then in the committed output once.
func TestDashboardDLQ(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest, runs Chromium")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (make test installs it: scripts/install-toolchains.sh): %v", err)
	}
	bin := buildWeir(t)
	wasm := wasmbuild.MustGo(t, "testdata/poison")
	dir := t.TempDir()
	s := startServer(t, bin, filepath.Join(dir, "data"))
	s.mustCLI("module", "push", wasm, "--name", "poison")
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(dlqServerSpec), 0o644)
	job := strings.TrimSpace(s.mustCLI("job", "submit", spec))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	tctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel := context.WithTimeout(tctx, 2*time.Minute)
	defer cancel()
	art := artifactsDir(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	fail := func(what string, err error) {
		t.Helper()
		dctx, cancel := context.WithTimeout(tctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(dctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("%s: %v\n%.3000s\nserver log:\n%s", what, err, html, s.stderr)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			fail(what, err)
		}
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
			fail(what, err)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(art, name+".png"), png, 0o644)
		})
	}

	run("job page", chromedp.Navigate(s.url()+"/ui/#/jobs/"+job), chromedp.WaitVisible(css("#dlq-link")))
	poll("dead letters counted", `!/dead letters: 0$/.test(document.getElementById("dlq-link").textContent)`)
	run("dlq view", chromedp.Click(css("#dlq-link")), chromedp.WaitVisible(css("#dlq tbody tr")))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#dlq tbody tr"), "data-dlq"))
	if err != nil || attr.Value == "" {
		fail("first entry id", err)
	}
	first := attr.Value
	run("entry", chromedp.Click(css(fmt.Sprintf(`#dlq tr[data-dlq=%q] a`, first))), chromedp.WaitVisible(css("#dlq-value")), shot("dlq"))
	poll("entry context", `document.getElementById("dlq-error").textContent.includes("poison record") && document.getElementById("dlq-context").textContent.includes("check (subtask")`)
	orig, err := chromedp.Run(ctx, chromedp.Value(css("#dlq-value")))
	if err != nil || len(orig) < 20 {
		fail("value", err)
	}
	fixed := "fixed-" + orig
	run("edit", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const a = document.getElementById("dlq-value"); a.value = %q; a.dispatchEvent(new Event("input")); })()`, fixed)),
		chromedp.Click(css("#dlq-save")))
	poll("edit done", `document.getElementById("dlq-msg").textContent.startsWith("edit of `+first+`: done")`)
	if out := s.mustCLI("dlq", "get", job, first); !strings.Contains(out, fixed) {
		t.Fatalf("after the edit from the page, dlq get shows:\n%s", out)
	}
	run("resubmit", chromedp.Click(css("#dlq-resubmit")))
	poll("resubmit done", `document.getElementById("dlq-msg").textContent.startsWith("resubmit of `+first+`: done")`)
	poll("entry gone", `!document.querySelector('#dlq tr[data-dlq="`+first+`"]')`)
	run("screenshot", shot("dlq-after-resubmit"))
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
