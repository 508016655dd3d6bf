package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifactsDir is where the browser tests leave their screenshots:
// $WEIR_TEST_ARTIFACTS, else .artifacts/dashboard at the repository's root
// (ignored by git).
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

// browser is one headless Chromium tab (Debian's chromium, never a download)
// that a test drives against s. Each helper fails the test with the page's
// address, its HTML and the server's log when a step fails or times out.
type browser struct {
	t    *testing.T
	s    *serverProc
	tab  context.Context // the tab, without a deadline
	ctx  context.Context // the tab, with the test's deadline
	arts string
}

// browserTimeout bounds a whole browser test: generous, for a loaded 2-core
// machine; each step waits for a condition, never for a fixed time.
const browserTimeout = 4 * time.Minute

// newBrowser starts Chromium for s; it stops when the test ends.
func newBrowser(t *testing.T, s *serverProc) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (make test installs it: scripts/install-toolchains.sh): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	tab, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel := context.WithTimeout(tab, browserTimeout)
	t.Cleanup(cancel)
	return &browser{t: t, s: s, tab: tab, ctx: ctx, arts: artifactsDir(t)}
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	// NB: a fresh deadline: b.ctx may be the one that ran out.
	dctx, cancel := context.WithTimeout(b.tab, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(dctx, chromedp.Location())
	html, _ := chromedp.Run(dctx, chromedp.OuterHTML(css("body")))
	b.t.Fatalf("%s: %v\nat %s:\n%.3000s\nserver log:\n%s", what, err, loc, html, b.s.stderr)
}

// run runs steps.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// text returns the text of the first element sel matches.
func (b *browser) text(what, sel string) string {
	b.t.Helper()
	txt, err := chromedp.Run(b.ctx, chromedp.Text(css(sel)))
	if err != nil {
		b.fail(what, err)
	}
	return txt
}

// eval returns the value of a JavaScript expression.
func eval[T any](b *browser, what, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// poll waits until the JavaScript expression expr is true (as long as the
// test's deadline allows).
func (b *browser) poll(what, expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(0))); err != nil {
		b.fail(what, err)
	}
}

// shot saves a screenshot of the whole page as <artifacts>/<name>.png.
func (b *browser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg) // 100: PNG
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.arts, name+".png"), png, 0o644)
	})
}
