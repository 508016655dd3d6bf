package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDashboard drives the dashboard in Debian's headless Chromium against a
// real `weir server` with a token and a running job: nothing without the
// token, sign-in, the job list, the graph's counts rising, a savepoint
// triggered from the page showing up in the checkpoint list, a swap done with
// the CLI showing up in the module history, and the module store.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and a Go guest, runs Chromium")
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
	flakySpec := filepath.Join(dir, "flaky.yaml")
	os.WriteFile(flakySpec, []byte(flakyCheckpointsSpec), 0o644)
	flaky := strings.TrimSpace(s.mustCLI(auth("job", "submit", flakySpec)...))

	checkDashboardAuth(t, s, "dash-token")

	b := newBrowser(t, s)
	// Without the token the page sends the browser to sign in.
	b.run("sign in",
		chromedp.Navigate(s.url()+"/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), "dash-token"),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(fmt.Sprintf(`#jobs tr[data-job=%q]`, id))),
		b.shot("jobs"))
	if state := b.text("job state", fmt.Sprintf(`#jobs tr[data-job=%q] td.state`, id)); state != "running" {
		t.Errorf("job list: job %s is %q, want running", id, state)
	}

	// The graph's counts rise.
	b.run("job page",
		chromedp.Navigate(s.url()+"/ui/#/jobs/"+id),
		chromedp.WaitVisible(css(`#graph g[data-node="count"]`)),
		chromedp.WaitVisible(css(`#nodes tr[data-node="count"]`)))
	const graphRecords = `parseInt(document.querySelector('#graph g[data-node="count"] text:nth-of-type(2)').textContent)`
	first := eval[int](b, "the count node's records", graphRecords)
	b.poll("the count node's records rising", fmt.Sprintf("%s > %d", graphRecords, first))
	tableRecords, _ := strconv.Atoi(strings.TrimSpace(b.text("the count node", `#nodes tr[data-node="count"] td.records`)))
	if tableRecords <= first {
		t.Errorf("the count node's table row shows %d records, want more than the %d the graph showed first", tableRecords, first)
	}

	// A savepoint from the page shows up in the checkpoint list.
	b.run("savepoint", chromedp.Click(css("#savepoint")))
	b.poll("savepoint result", `document.getElementById("savepoint-result").textContent.startsWith("savepoint sp-")`)
	result := b.text("savepoint result", "#savepoint-result")
	m := regexp.MustCompile(`of checkpoint (\d+)`).FindStringSubmatch(result)
	if m == nil {
		t.Fatalf("savepoint result %q", result)
	}
	row := fmt.Sprintf(`#checkpoints tr[data-checkpoint="%s"]`, m[1])
	b.run("checkpoint of the savepoint", chromedp.WaitVisible(css(row)), b.shot("job"))
	for _, c := range []struct{ col, unit string }{{"duration", " ms"}, {"alignment", " ms"}, {"state-bytes", "B"}} {
		if v := b.text("checkpoint "+c.col, row+" td."+c.col); !strings.HasSuffix(v, c.unit) {
			t.Errorf("checkpoint %s: %s %q, want it in %q", m[1], c.col, v, c.unit)
		}
	}

	// A swap from the CLI shows up in the module history.
	s.mustCLI(auth("job", "swap", id, "count", paths[1])...)
	b.poll("swap in the history", `document.querySelectorAll("#history tbody tr").length === 2`)
	b.run("screenshot", b.shot("job-after-swap"))
	// The swap's checkpoint is not the first: its incremental bytes are known.
	b.poll("two checkpoints", `document.querySelectorAll("#checkpoints tbody tr").length >= 2`)
	if v := b.text("incremental bytes", "#checkpoints tbody tr td.incremental"); !strings.HasSuffix(v, "B") {
		t.Errorf("the newest checkpoint's incremental bytes: %q, want bytes", v)
	}

	// Checkpoints that time out are listed as failed.
	b.run("flaky job page", chromedp.Navigate(s.url()+"/ui/#/jobs/"+flaky), chromedp.WaitVisible(css("#checkpoint-failures")))
	b.poll("failed checkpoints", `[...document.querySelectorAll("#checkpoint-failures tbody td.error")].some((td) => td.textContent.includes("timed out"))`)
	b.run("screenshot", b.shot("job-failed-checkpoints"))

	b.run("modules page",
		chromedp.Navigate(s.url()+"/ui/#/modules"),
		chromedp.WaitVisible(css(`#modules tbody tr`)),
		b.shot("modules"))
	if n := eval[int](b, "modules", `document.querySelectorAll("#modules tbody tr").length`); n != 2 {
		t.Errorf("module store: %d rows, want the 2 modules", n)
	}
	if !eval[bool](b, "used by", fmt.Sprintf(`[...document.querySelectorAll("#modules td.used-by")].some((td) => td.textContent.includes(%q))`, id)) {
		t.Errorf("module store: no module is used by the job %s", id)
	}
	if abi := b.text("abi", "#modules tbody tr td.abi"); abi != "v1" {
		t.Errorf("module store: ABI %q, want v1", abi)
	}
	t.Logf("screenshots in %s", b.arts)
}

// flakyCheckpointsSpec is a job whose checkpoints time out.
const flakyCheckpointsSpec = `name: flaky
parallelism: 1
checkpoint: {interval: 100ms, timeout: 1ms}
restart: {attempts: 1000, delay: 100ms}
sources:
  - name: events
    kind: datagen
    options: {seed: 5, count: 0, keys: 10, valueBytes: 20, rate: 100}
operators:
  - name: count
    module: vcount
    inputs: [{from: events, partition: keyBy}]
sinks:
  - name: out
    kind: discard
    from: count
`

// checkDashboardAuth checks that the dashboard, like the API, is served only
// with the token: its files redirect to the sign-in page, the API answers 401
// to a request without the token or with a wrong one, and the sign-in page
// refuses a wrong token.
func checkDashboardAuth(t *testing.T, s *serverProc, token string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, cookie, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, s.url()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/json")
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "weir_token", Value: cookie})
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header.Get("Location")
	}
	for _, cookie := range []string{"", "wrong"} {
		for _, p := range []string{"/", "/ui/", "/ui/index.html", "/ui/app.js", "/ui/app.css"} {
			if code, loc := do(http.MethodGet, p, cookie, ""); code != http.StatusSeeOther || loc != "/ui/login" {
				t.Errorf("GET %s with cookie %q: %d to %q, want 303 to /ui/login", p, cookie, code, loc)
			}
		}
		for _, p := range []string{"/weir.v1.JobService/List", "/weir.v1.JobService/ListCheckpoints", "/weir.v1.ModuleService/List", "/weir.v1.DLQService/List", "/weir.v1.JobService/TriggerSavepoint"} {
			if code, _ := do(http.MethodPost, p, cookie, "{}"); code != http.StatusUnauthorized {
				t.Errorf("POST %s with cookie %q: %d, want 401", p, cookie, code)
			}
		}
	}
	if code, _ := do(http.MethodGet, "/ui/login", "", ""); code != http.StatusOK {
		t.Errorf("GET /ui/login: %d, want the sign-in page", code)
	}
	res, err := hc.PostForm(s.url()+"/ui/login", url.Values{"token": {"guess"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("sign-in with a wrong token: %d with %d cookies, want 401 and none", res.StatusCode, len(res.Cookies()))
	}
	if code, _ := do(http.MethodPost, "/weir.v1.JobService/List", token, "{}"); code != http.StatusOK {
		t.Errorf("POST /weir.v1.JobService/List with the token's cookie: %d, want 200", code)
	}
	if code, _ := do(http.MethodGet, "/ui/app.js", token, ""); code != http.StatusOK {
		t.Errorf("GET /ui/app.js with the token's cookie: %d, want 200", code)
	}
}
