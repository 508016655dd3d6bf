package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifactsDir is where the browser test leaves its screenshots: $WEIR_TEST_ARTIFACTS,
// else .artifacts/dashboard at the repository's root (ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("WEIR_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts", "dashboard")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboard drives the dashboard in Debian's headless Chromium against a
// real `weir server` with a token and a running job: sign-in, the job list
// (paginated past 50 jobs), the graph's counts rising, a savepoint triggered
// from the page showing up in the checkpoint list, and a swap done with the
// CLI showing up in the module history.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest, runs Chromium")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (make test installs it: scripts/install-toolchains.sh): %v", err)
	}
	bin := buildWeir(t)
	dir := t.TempDir()
	paths := vcountModules(t, dir, 2)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("dash-token\n"), 0o600)
	s := startServer(t, bin, filepath.Join(dir, "data"), "--token-file", tokenFile)
	auth := func(args ...string) []string { return append(args, "--token-file", tokenFile) }
	s.mustCLI(auth("module", "push", paths[0], "--name", "vcount")...)
	spec := filepath.Join(dir, "job.yaml")
	os.WriteFile(spec, []byte(fmt.Sprintf(benchSpec, "dash", 1<<40, 2000, "discard", "{}")), 0o644)
	id := strings.TrimSpace(s.mustCLI(auth("job", "submit", spec)...))
	small := filepath.Join(dir, "small.yaml")
	os.WriteFile(small, []byte(fmt.Sprintf(benchSpec, "small", 10, 0, "discard", "{}")), 0o644)
	for i := 0; i < 54; i++ {
		s.mustCLI(auth("job", "submit", small)...)
	}

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
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(art, name+".png"), png, 0o644)
		})
	}
	fail := func(what string, err error) {
		t.Helper()
		// NB: a fresh deadline: ctx may be the one that ran out.
		dctx, cancel := context.WithTimeout(tctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(dctx, chromedp.Location())
		html, _ := chromedp.Run(dctx, chromedp.OuterHTML(css("body")))
		t.Fatalf("%s: %v\nat %s:\n%.3000s\nserver log:\n%s", what, err, loc, html, s.stderr)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			fail(what, err)
		}
	}
	text := func(what, sel string) string {
		t.Helper()
		txt, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			fail(what, err)
		}
		return txt
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr)); err != nil {
			fail(what, err)
		}
	}

	// Without the token the page sends the browser to sign in.
	run("sign in",
		chromedp.Navigate(s.url()+"/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), "dash-token"),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(fmt.Sprintf(`#jobs tr[data-job=%q]`, id))),
		shot("jobs"))
	if pager := text("pager", ".pager"); !strings.Contains(pager, "page 1 of 2") {
		t.Errorf("55 jobs: pager says %q, want page 1 of 2", pager)
	}

	// The graph's counts rise.
	records := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(text("the count node", `#nodes tr[data-node="count"] td.records`)))
		return n
	}
	run("job page",
		chromedp.Navigate(s.url()+"/ui/#/jobs/"+id),
		chromedp.WaitVisible(css(`#graph g[data-node="count"]`)),
		chromedp.WaitVisible(css(`#nodes tr[data-node="count"]`)))
	first := records()
	time.Sleep(2500 * time.Millisecond)
	if second := records(); second <= first {
		t.Errorf("the count node's records went from %d to %d in 2.5 s, want them rising", first, second)
	}

	// A savepoint from the page shows up in the checkpoint list.
	run("savepoint", chromedp.Click(css("#savepoint")))
	poll("savepoint result", `document.getElementById("savepoint-result").textContent.startsWith("savepoint sp-")`)
	result := text("savepoint result", "#savepoint-result")
	m := regexp.MustCompile(`of checkpoint (\d+)`).FindStringSubmatch(result)
	if m == nil {
		t.Fatalf("savepoint result %q", result)
	}
	run("checkpoint of the savepoint", chromedp.WaitVisible(css(fmt.Sprintf(`#checkpoints tr[data-checkpoint="%s"]`, m[1]))), shot("job"))
	if d := text("checkpoint duration", fmt.Sprintf(`#checkpoints tr[data-checkpoint="%s"] td:nth-child(3)`, m[1])); !strings.HasSuffix(d, " ms") {
		t.Errorf("checkpoint %s: duration %q, want milliseconds", m[1], d)
	}

	// A swap from the CLI shows up in the module history.
	s.mustCLI(auth("job", "swap", id, "count", paths[1])...)
	poll("swap in the history", `document.querySelectorAll("#history tbody tr").length === 2`)
	run("screenshot", shot("job-after-swap"))

	run("modules page",
		chromedp.Navigate(s.url()+"/ui/#/modules"),
		chromedp.WaitVisible(css(`#modules tbody tr`)),
		shot("modules"))
	t.Logf("screenshots in %s", art)
}
