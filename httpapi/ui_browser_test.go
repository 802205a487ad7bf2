package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/llmqueue/llmqueue"
	"github.com/llmqueue/llmqueue/internal/lockedbuf"
	"github.com/llmqueue/llmqueue/internal/redistest"
	"github.com/stretchr/testify/require"
)

// Environment variables of the browser test.
const (
	// envRequireBrowser set (to anything) makes a missing Chromium a
	// failure instead of a skip, so CI cannot lose the test silently.
	envRequireBrowser = "LLMQUEUE_REQUIRE_BROWSER"
	// envTestOutput names the folder the test writes its screenshot to;
	// a temp dir by default.
	envTestOutput = "LLMQUEUE_TEST_OUTPUT"
	// envUpdateScreenshot set to "1" also writes the screenshot to
	// docs/dashboard.png, the README's picture.
	envUpdateScreenshot = "LLMQUEUE_UPDATE_SCREENSHOT"
)

// browserToken is the bearer token the dashboard test's auth hook wants.
const browserToken = "dash-t0ken"

// findChromium returns the path of a headless-capable Chromium, or skips
// the test (fails it when envRequireBrowser is set).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(envRequireBrowser) != "" {
		t.Fatalf("chromium not found on PATH but %s is set; install it with apt-get install -y chromium", envRequireBrowser)
	}
	t.Skipf("chromium not found on PATH (set %s=1 to make this a failure)", envRequireBrowser)
	return ""
}

// browserRedis is a real redis-server when one is installed (or required),
// else miniredis.
func browserRedis(t *testing.T) *redistest.Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err == nil || os.Getenv(redistest.EnvRequireRedis) == "1" {
		return redistest.StartReal(t)
	}
	return redistest.StartMini(t)
}

// demoWork is the processor behind the dashboard test: payload "kind"
// "die" dead-letters a request on its first attempt and completes it on
// the next, "suspend" waits for a human, "limit" answers one 429, "slow"
// takes 2 seconds, and the rest take a moment; all report usage near their
// estimate.
type demoWork struct{ seen sync.Map }

func (d *demoWork) Process(ctx context.Context, job *llmqueue.Job) (*llmqueue.Result, error) {
	var p struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(job.Payload, &p) // any other payload is ordinary work
	_, again := d.seen.LoadOrStore(job.ID, true)
	switch {
	case p.Kind == "die" && !again:
		return nil, llmqueue.Permanent(errors.New("provider said 400: the prompt is too long"))
	case p.Kind == "suspend" && job.ResumeInput == nil:
		return nil, llmqueue.Suspend("approve the draft", []byte(`{"draft":1}`))
	case p.Kind == "limit" && !again:
		return nil, llmqueue.RateLimited(700*time.Millisecond, errors.New("429 too many tokens"))
	}
	took := time.Duration(80+job.EstimatedTokens%300) * time.Millisecond
	if p.Kind == "slow" {
		took = 2 * time.Second
	}
	select {
	case <-time.After(took):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	in := job.EstimatedTokens * 7 / 10
	return &llmqueue.Result{Output: json.RawMessage(`{"ok":true}`), Model: demoModel,
		Usage: llmqueue.Usage{InputTokens: in, OutputTokens: job.EstimatedTokens / 5}}, nil
}

// demoModel is the model demoWork's replies name, priced in the dashboard
// test so that the page has costs to show.
const demoModel = "gpt-4o-mini"

// consoleLog collects what the page reports as an error: console.error
// and console.assert calls, uncaught exceptions, and error entries of the
// browser's log (failed loads, CSP violations).
type consoleLog struct {
	mu       sync.Mutex
	errs     []string
	messages int
	quiet    bool // ignore the network's own 401 entries from here on
}

func (c *consoleLog) add(m chromedp.ConsoleMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages++
	switch m.Type {
	case chromedp.ConsoleError, chromedp.ConsoleException, "assert":
	default:
		return
	}
	if c.quiet && m.Source == "network" && strings.Contains(m.Text, "401") {
		return // the refusals the wrong-token step asks for
	}
	c.errs = append(c.errs, fmt.Sprintf("%s (source %q, %s:%d, quiet %v)", m, m.Source, m.URL, m.Line, c.quiet))
}

func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

func (c *consoleLog) expectWrongToken() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.quiet = true
}

// TestDashboard_InARealBrowser is issue 12's acceptance test: a headless
// Chromium opens the dashboard of a live server on a real Redis while a
// BatchProcessor works, and the test checks that the page raises no
// console error, shows the numbers metrics.json has, requeues a dead
// request with its button, and shows a visible 401 for a wrong token while
// the request stays dead. It writes a screenshot.
func TestDashboard_InARealBrowser(t *testing.T) {
	chromium := findChromium(t)
	start := time.Now()
	e := newEnvOn(t, browserRedis(t), config{
		manager: llmqueue.Config{Namespace: "dash", Budget: llmqueue.Budget{TPM: 1_500_000, RPM: 400},
			Prices: map[string]llmqueue.Price{demoModel: {InputPerMillion: 0.15, OutputPerMillion: 0.6}}},
		api: []Option{WithAuth(func(r *http.Request) error {
			if IsDashboardAsset(r) {
				return nil
			}
			if r.Header.Get("Authorization") != "Bearer "+browserToken {
				return errors.New("missing or wrong bearer token")
			}
			return nil
		})},
	})
	bp := e.startProcessor(&demoWork{}, &llmqueue.WorkerConfig{WorkerID: "dash-worker-1", Concurrency: 4})
	require.NotNil(t, bp)
	auth := []string{"Authorization", "Bearer " + browserToken}

	// Work for the page to show: two requests that die, one that waits for
	// a human, one 429, and a stream of ordinary requests of every class.
	add := func(id, kind string, tokens int64) {
		body := fmt.Sprintf(`{"id": %q, "payload": {"kind": %q}, "estimated_tokens": %d}`, id, kind, tokens)
		status, _, b := e.do(http.MethodPost, "/v1/queue/requests", body, auth...)
		require.Equal(t, http.StatusCreated, status, "body: %s", b)
	}
	add("dead-1", "die", 3000)
	add("dead-2", "die", 21000)
	add("approval-1", "suspend", 5000)
	add("limited-1", "limit", 4000)
	for i := range 24 {
		add(fmt.Sprintf("job-%02d", i), "work", []int64{2500, 6000, 11000, 24000, 90000}[i%5])
	}

	// The browser: headless, offline, a profile of its own.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	)
	t.Cleanup(cancelAlloc)
	var cdpErrs lockedbuf.Buffer
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(f string, a ...any) {
		fmt.Fprintf(&cdpErrs, f+"\n", a...)
	}))
	t.Cleanup(cancel)
	ctx, cancelAll := context.WithTimeout(ctx, 50*time.Second) // nothing below may hang
	t.Cleanup(cancelAll)
	t.Cleanup(func() {
		if t.Failed() && cdpErrs.String() != "" {
			t.Logf("chromedp errors:\n%s", cdpErrs.String())
		}
	})
	console := &consoleLog{}
	messages := chromedp.Console(ctx) // starts the browser; subscribes before the page loads
	var reading sync.WaitGroup
	reading.Go(func() {
		for m, err := range messages {
			if err != nil {
				return // the context ended
			}
			console.add(m)
		}
	})
	t.Cleanup(func() { cancelAll(); reading.Wait() })

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...), what)
	}
	eval := func(what, expr string, dst any) {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
		require.NoError(t, err, what)
		require.NoError(t, json.Unmarshal(v, dst), what)
	}
	// waitFor polls a JavaScript expression until it is true.
	waitFor := func(what, expr string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
		require.NoError(t, err, "wait for %s", what)
	}
	polls := func() int {
		t.Helper()
		var n int
		eval("read the poll count", `Number(document.querySelector("#updated").dataset.polls)`, &n)
		return n
	}

	// (1) The page loads with the token in its session storage (as the
	// token field leaves it), so no request of the page is refused.
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: fmt.Sprintf(`sessionStorage.getItem("llmqueue.token") || sessionStorage.setItem("llmqueue.token", %q)`, browserToken),
	})
	require.NoError(t, err)
	do("open the dashboard",
		chromedp.EmulateViewport(1280, 1000),
		chromedp.Navigate(e.srv.URL+"/v1/queue/ui"), // the redirect to ui/ included
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	waitFor("a poll with the token", `document.querySelector("#banner").hidden && Number(document.querySelector("#updated").dataset.polls) > 0`)

	// Work flows: the tables fill in as requests die and suspend.
	waitFor("the dead and suspended rows", `!!(document.querySelector('#table-dead tr[data-id="dead-1"]') &&
		document.querySelector('#table-dead tr[data-id="dead-2"]') &&
		document.querySelector('#table-suspended tr[data-id="approval-1"]'))`)
	waitFor("the ordinary work to finish", `document.querySelector('[data-metric="total_processing"]').textContent === "0" &&
		document.querySelector('[data-metric="low_in_queue"]').textContent === "0" &&
		document.querySelector('[data-metric="medium_in_queue"]').textContent === "0" &&
		document.querySelector('[data-metric="long_in_queue"]').textContent === "0"`)

	// (2) A stable state: paused, with a few requests in each queue. The
	// page's figures must be metrics.json's.
	status, _, b := e.do(http.MethodPost, "/v1/queue/processing/pause", "", auth...)
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	for i := range 6 {
		add(fmt.Sprintf("waiting-%d", i), "work", []int64{2000, 3000, 4000, 30000, 40000, 100000}[i])
	}
	waitFor("the paused state", `!document.querySelector("#paused").hidden && document.querySelector('[data-metric="long_in_queue"]').textContent === "1"`)
	after := polls()
	waitFor("two more polls", fmt.Sprintf(`Number(document.querySelector("#updated").dataset.polls) >= %d`, after+2))
	var m llmqueue.Metrics
	status, _, b = e.do(http.MethodGet, "/v1/queue/metrics.json", "", auth...)
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	require.NoError(t, json.Unmarshal(b, &m))
	var shown map[string]string
	eval("read the tiles", `Object.fromEntries([...document.querySelectorAll("[data-metric]")].map(el => [el.dataset.metric, el.textContent]))`, &shown)
	for key, want := range map[string]int64{
		"low_in_queue": m.LowInQueue, "medium_in_queue": m.MediumInQueue, "long_in_queue": m.LongInQueue,
		"total_processing": m.TotalProcessing, "scheduled": m.Scheduled, "suspended": m.Suspended,
		"dead": m.Dead, "workers": int64(len(m.Workers)),
	} {
		require.Equal(t, strconv.FormatInt(want, 10), strings.ReplaceAll(shown[key], ",", ""), "tile %s (page %v, metrics %s)", key, shown, b)
	}
	require.Equal(t, fmt.Sprintf("$%.4f", m.CostUSD), shown["cost_usd"])
	require.Positive(t, m.CostByModel[demoModel], "metrics: %s", b)
	var costRows [][]string
	eval("read the cost table", `[...document.querySelectorAll("#cost tbody tr")].map(tr => [...tr.cells].map(td => td.textContent))`, &costRows)
	wantCost := [][]string{}
	for model, usd := range m.CostByModel {
		wantCost = append(wantCost, []string{"model", model, fmt.Sprintf("$%.4f", usd)})
	}
	require.Equal(t, wantCost, costRows, "one row per model")
	require.Equal(t, int64(3), m.LowInQueue)
	require.Equal(t, int64(2), m.MediumInQueue)
	require.Equal(t, int64(1), m.LongInQueue)
	require.Equal(t, int64(2), m.Dead)
	require.Equal(t, int64(1), m.Suspended)
	var rows []string
	eval("read the queued table", `[...document.querySelectorAll("#table-queued tbody tr")].map(tr => tr.dataset.id)`, &rows)
	require.Equal(t, []string{"waiting-0", "waiting-1", "waiting-2", "waiting-3", "waiting-4", "waiting-5"}, rows)
	workers, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#workers tbody")))
	require.NoError(t, err)
	require.Contains(t, workers, "dash-worker-1")

	// The picture, with work flowing again.
	status, _, b = e.do(http.MethodPost, "/v1/queue/processing/resume", "", auth...)
	require.Equal(t, http.StatusOK, status, "body: %s", b)
	for i := range 16 {
		kind := "work"
		if i%3 == 0 {
			kind = "slow"
		}
		add(fmt.Sprintf("more-%02d", i), kind, []int64{3000, 9000, 26000, 5000, 95000}[i%5])
	}
	waitFor("work on the page", `document.querySelector("#paused").hidden &&
		Number(document.querySelector('[data-metric="total_processing"]').textContent) >= 3`)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err, "screenshot")
	writeScreenshot(t, png)

	// (3) The requeue button of a dead request: it completes (the
	// processor succeeds on its second try).
	do("click requeue", chromedp.Click(chromedp.CSS(`#table-dead button[data-action="requeue"][data-id="dead-1"]`)))
	waitFor("the requeue message", `document.querySelector("#action-msg").textContent.includes("Requeued dead-1")`)
	require.Equal(t, llmqueue.StatusCompleted, e.waitStatusAuth("dead-1", llmqueue.StatusCompleted, auth).Status)

	// (4) A wrong token: the click shows a visible 401 and the request
	// stays dead.
	console.expectWrongToken()
	do("type a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.ID("save-token")),
	)
	waitFor("the 401 banner", `!document.querySelector("#banner").hidden && document.querySelector("#banner").textContent.includes("401")`)
	do("click requeue with the wrong token", chromedp.Click(chromedp.CSS(`#table-dead button[data-action="requeue"][data-id="dead-2"]`)))
	waitFor("the 401 message", `document.querySelector("#action-msg").textContent.includes("401")`)
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("action-msg")))
	require.NoError(t, err)
	require.Contains(t, msg, "dead-2")
	var visible bool
	eval("is the message visible", `(() => { const r = document.querySelector("#action-msg").getBoundingClientRect(); return r.width > 0 && r.height > 0 })()`, &visible)
	require.True(t, visible, "the 401 message is not visible")
	require.Equal(t, llmqueue.StatusDead, e.statusAuth("dead-2", auth).Status, "a refused click must not requeue")

	// The right token typed into the field opens the API again.
	do("type the token",
		chromedp.SendKeys(chromedp.ID("token"), browserToken),
		chromedp.Click(chromedp.ID("save-token")),
	)
	waitFor("the banner to go", `document.querySelector("#banner").hidden`)

	// (1) again: nothing on the page went wrong. A console.info written
	// now shows the listener hears the page.
	do("write to the console", chromedp.Evaluate[chromedp.Void](`console.info("dashboard test: done")`))
	require.Eventually(t, func() bool {
		console.mu.Lock()
		defer console.mu.Unlock()
		return console.messages > 0
	}, 5*time.Second, 20*time.Millisecond, "no console message arrived: the listener is not working")
	require.Empty(t, console.errors(), "the page reported errors")
	t.Logf("dashboard test took %s", time.Since(start).Round(time.Millisecond))
}

// writeScreenshot writes png to the test output folder, and to
// docs/dashboard.png when envUpdateScreenshot is "1".
func writeScreenshot(t *testing.T, png []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "the screenshot is not a PNG")
	dir := os.Getenv(envTestOutput)
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	out := filepath.Join(dir, "dashboard.png")
	require.NoError(t, os.WriteFile(out, png, 0o644))
	t.Logf("screenshot: %s", out)
	if os.Getenv(envUpdateScreenshot) == "1" {
		doc := filepath.Join("..", "docs", "dashboard.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(doc), 0o755))
		require.NoError(t, os.WriteFile(doc, png, 0o644))
		t.Logf("screenshot: updated %s", doc)
	}
}

// statusAuth reads a request through the API with the given header.
func (e *env) statusAuth(id string, header []string) llmqueue.RequestStatus {
	e.t.Helper()
	code, _, b := e.do(http.MethodGet, "/v1/queue/requests/"+id, "", header...)
	require.Equal(e.t, http.StatusOK, code, "body: %s", b)
	var st llmqueue.RequestStatus
	require.NoError(e.t, json.Unmarshal(b, &st))
	return st
}

// waitStatusAuth is waitStatus with the given header.
func (e *env) waitStatusAuth(id string, want llmqueue.Status, header []string) llmqueue.RequestStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.statusAuth(id, header)
		if st.Status == want {
			return st
		}
		require.True(e.t, time.Now().Before(deadline), "request %s is %s, want %s", id, st.Status, want)
		time.Sleep(20 * time.Millisecond)
	}
}
