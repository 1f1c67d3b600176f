package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

const (
	adminToken  = "admin-token-0123456789abcdef0123456789abcdef"
	viewerToken = "viewer-token-0123456789abcdef0123456789abcde"
	hookSecret  = "ui-test-webhook-secret"
	repo        = "acme/app"
)

// memProvider keeps machines in memory: the dashboard tests need a manager
// whose machines exist (reconcile finds them) without booting anything.
type memProvider struct {
	mu   sync.Mutex
	m    map[string]provider.Machine
	fail string // if set, every Create fails with it
}

func (p *memProvider) Create(_ context.Context, s provider.Spec) (provider.Machine, error) {
	if p.fail != "" {
		return provider.Machine{}, errors.New(p.fail)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := provider.Machine{ProviderID: "mem-" + s.Name, Name: s.Name, Status: provider.StatusRunning}
	p.m[s.Name] = m
	return m, nil
}

func (p *memProvider) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, name)
	return nil
}

func (p *memProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.m[name]; ok {
		return m, nil
	}
	return provider.Machine{}, provider.ErrNotFound
}

func (p *memProvider) List(context.Context) ([]provider.Machine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []provider.Machine
	for _, m := range p.m {
		out = append(out, m)
	}
	return out, nil
}

// fleet is a manager with the production wiring (app.New), a GitHub
// simulator for its API calls, and webhooks sent over HTTP like GitHub's.
type fleet struct {
	t     *testing.T
	dir   string
	addr  string
	sim   *forgesim.Sim
	provs map[string]provider.Provider
	app   *app.App
	stop  context.CancelFunc
	done  chan struct{}
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	f := &fleet{t: t, dir: t.TempDir(), sim: sim, provs: map[string]provider.Provider{
		"mem":    &memProvider{m: map[string]provider.Machine{}},
		"broken": &memProvider{fail: "quota exceeded for machine type in zone (simulated)"},
	}}
	f.start("127.0.0.1:0")
	t.Cleanup(f.shutdown)
	return f
}

func (f *fleet) config(listen string) *config.Config {
	f.t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: {listen: %q, admin_token: %s, viewer_token: %s}
store: {path: %q, encryption_key: %q}
state_dir: %q
providers: [{name: mem, type: process}, {name: broken, type: process}]
forges: [{name: sim, kind: github, api_url: %q, webhook_secret: %s, credential: {kind: pat, token: x}}]
entities: [{forge: sim, kind: repository, name: %s}]
pools:
  - {name: standard, entity: %s, provider: mem, labels: [linux, x64], max_runners: 20, bootstrap_timeout: 30m}
  - {name: docker, entity: %s, provider: mem, labels: [linux, docker], max_runners: 2, priority: 10, bootstrap_timeout: 30m}
  - {name: arm, entity: %s, provider: broken, labels: [linux, arm64], max_runners: 4, bootstrap_timeout: 30m}
`, listen, adminToken, viewerToken, filepath.Join(f.dir, "paddock.db"), strings.Repeat("ab", 32), f.dir, f.sim.URL(),
		hookSecret, repo, repo, repo, repo)), "ui-test.yaml", f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	return cfg
}

// start runs a manager on addr (reusing the store, so a restart keeps state).
func (f *fleet) start(addr string) {
	f.t.Helper()
	var l net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.addr = l.Addr().String()
	a, err := app.New(context.Background(), f.config(f.addr), app.Options{Listener: l,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ProviderOverrides: f.provs})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.app, f.stop, f.done = a, cancel, make(chan struct{})
	go func() { _ = a.Run(ctx); close(f.done) }()
	waitUntil(f.t, "manager answers", func() bool {
		resp, err := http.Get(f.url("/healthz"))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func (f *fleet) shutdown() {
	if f.stop != nil {
		f.stop()
		<-f.done
		f.stop = nil
	}
}

// appendEvent writes an event straight to the store file, as another
// process sharing the store would (only while this manager is stopped).
func (f *fleet) appendEvent(e core.Event) int64 {
	f.t.Helper()
	cfg := f.config(f.addr)
	box, err := secretbox.New(cfg.Store.Key())
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), cfg.Store.Path, box)
	if err != nil {
		f.t.Fatal(err)
	}
	defer st.Close()
	if err := st.AppendEvents(context.Background(), []*core.Event{&e}); err != nil {
		f.t.Fatal(err)
	}
	return e.ID
}

func (f *fleet) url(path string) string { return "http://" + f.addr + path }

// hook delivers a signed workflow_job webhook as GitHub would.
func (f *fleet) hook(action string, id int64, labels []string, runner string, conclusion string) {
	f.t.Helper()
	now := time.Now().UTC()
	j := map[string]any{"id": id, "run_id": id, "run_attempt": 1, "labels": labels, "name": fmt.Sprintf("build-%d", id),
		"workflow_name": "ci", "created_at": now.Add(-time.Duration(id%7) * time.Minute).Format(time.RFC3339)}
	switch action {
	case "queued":
		j["status"] = "queued"
	case "in_progress":
		j["status"], j["runner_name"], j["started_at"] = "in_progress", runner, now.Format(time.RFC3339)
	case "completed":
		j["status"], j["runner_name"], j["conclusion"] = "completed", runner, conclusion
		j["started_at"], j["completed_at"] = now.Add(-30*time.Second).Format(time.RFC3339), now.Format(time.RFC3339)
	}
	body, _ := json.Marshal(map[string]any{"action": action, "workflow_job": j,
		"repository": map[string]any{"id": 1, "name": "app", "full_name": repo, "owner": map[string]any{"login": "acme"}}})
	req, _ := http.NewRequest(http.MethodPost, f.url("/webhooks/github"), strings.NewReader(string(body)))
	req.Header.Set("X-GitHub-Event", "workflow_job")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("d-%d-%s-%d", id, action, now.UnixNano()))
	req.Header.Set("X-Hub-Signature-256", github.Sign([]byte(hookSecret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		f.t.Fatalf("webhook %s %d: status %d", action, id, resp.StatusCode)
	}
}

// api GETs a REST path with the admin token and decodes the answer.
func (f *fleet) api(path string, v any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		f.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		f.t.Fatal(err)
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browser is one headless Chromium tab that records console errors and
// uncaught exceptions.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
	// allowNetErrors: connection failures are expected while the manager restarts.
	allowNetErrors bool
}

func chromiumPath() string {
	if p := os.Getenv("PADDOCK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium binary found (install Debian's chromium package; scripts/test does)")
		}
		t.Skip("no Chromium binary found: install Debian's chromium package (apt-get install chromium) or set PADDOCK_CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.note("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			b.note("exception: " + msg)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.LevelError {
				if ev.Entry.Source == log.SourceNetwork && b.netOK() {
					return
				}
				b.note("log(" + string(ev.Entry.Source) + "): " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	})
	if err := chromedp.Run(ctx, log.Enable(), runtime.Enable()); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start chromium %s: %v", path, err)
	}
	t.Cleanup(func() { cancelC(); cancelA() })
	return b
}

func (b *browser) netOK() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allowNetErrors
}

func (b *browser) note(s string) {
	b.mu.Lock()
	b.errs = append(b.errs, s)
	b.mu.Unlock()
}

// noErrors fails the test if the page logged an error or threw.
func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.t.Fatalf("browser console errors:\n%s", strings.Join(b.errs, "\n"))
	}
}

func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(js, out))
}

// The pages' live region is replaced whenever an event arrives, so the
// helpers below read and click through one JavaScript evaluation each
// (atomic in the page) rather than through DOM node ids, which a swap
// invalidates.

// text returns the trimmed text of the first element matching sel ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`((document.querySelector(%q) || {}).innerText || "").trim()`, sel), &s)
	return s
}

// waitFor waits until an element matches sel, across page loads.
func (b *browser) waitFor(sel string) {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`!!document.querySelector(%q)`, sel), &ok))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no element %s on the page (last error: %v)", sel, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nav loads path and waits for sel.
func (b *browser) nav(f *fleet, path, sel string) {
	b.t.Helper()
	b.run(chromedp.Navigate(f.url(path)))
	b.waitFor(sel)
}

// click waits for sel and clicks it.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.waitFor(sel)
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true; })()`, sel), &ok)
	if !ok {
		b.t.Fatalf("%s vanished before the click", sel)
	}
}

func (b *browser) login(f *fleet, token string) {
	b.t.Helper()
	b.nav(f, "/ui/login", "#token")
	b.run(chromedp.SendKeys("#token", token, chromedp.ByQuery))
	b.click("#signin")
	b.waitFor("#role")
}

// screenshot writes the page to $PADDOCK_UI_SCREENSHOTS/name.png, if set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("PADDOCK_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	// Right after a form post the new document may not be laid out yet
	// (Chromium then refuses a 0-width capture), and right after a live
	// refresh the charts are not drawn yet: wait until both are done.
	var png []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ready bool
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(`document.readyState === "complete" && document.documentElement.clientWidth > 0 &&
			(!document.querySelector("#charts") || document.querySelectorAll("#charts canvas").length === 2)`, &ready))
		if err == nil && ready {
			err = chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100))
		}
		cancel()
		if err == nil && ready {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
