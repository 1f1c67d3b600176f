package ui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/core"
)

var (
	x64    = []string{"self-hosted", "linux", "x64"}
	docker = []string{"self-hosted", "linux", "docker"}
	gpu    = []string{"self-hosted", "gpu"}
	arm    = []string{"self-hosted", "linux", "arm64"}
)

// populate drives the manager like a small demo: jobs for three pools and one
// no pool serves; a pool whose provider fails; three jobs start, two finish.
func populate(t *testing.T, f *fleet) {
	for id := int64(1); id <= 12; id++ {
		labels := map[bool][]string{true: x64}[id <= 6]
		switch {
		case id <= 6:
		case id <= 10:
			labels = docker
		case id == 11:
			labels = gpu
		default:
			labels = arm
		}
		f.hook("queued", id, labels, "", "")
	}
	var insts []api.InstanceView
	waitUntil(t, "machines for the standard pool", func() bool {
		f.api("/api/v1/instances?pool=standard", &insts)
		return len(insts) >= 6
	})
	waitUntil(t, "pool arm failing", func() bool {
		var ps []api.PoolView
		f.api("/api/v1/pools", &ps)
		for _, p := range ps {
			if p.Name == "arm" && p.Status == api.PoolFailing {
				return true
			}
		}
		return false
	})
	sort.Slice(insts, func(i, j int) bool { return insts[i].Name < insts[j].Name })
	for k, id := range []int64{1, 2, 3} {
		f.hook("in_progress", id, x64, insts[k].Name, "")
	}
	f.hook("completed", 1, x64, insts[0].Name, "success")
	f.hook("completed", 2, x64, insts[1].Name, "failure")
	waitUntil(t, "finished machines deleted", func() bool {
		var live []api.InstanceView
		f.api("/api/v1/instances?pool=standard", &live)
		for _, i := range live {
			if i.Name == insts[0].Name || i.Name == insts[1].Name {
				return false
			}
		}
		return true
	})
}

// apiNumbers are the figures the dashboard must agree with, from the REST API.
type apiNumbers struct {
	Queued, Running int
	ByState         map[string]int
	Pools           map[string][2]int // live, idle
}

func (f *fleet) numbers() apiNumbers {
	n := apiNumbers{ByState: map[string]int{}, Pools: map[string][2]int{}}
	var jobs []core.Job
	f.api("/api/v1/jobs?state=queued", &jobs)
	n.Queued = len(jobs)
	f.api("/api/v1/jobs?state=in_progress", &jobs)
	n.Running = len(jobs)
	var insts []api.InstanceView
	f.api("/api/v1/instances", &insts)
	for _, i := range insts {
		n.ByState[string(i.State)]++
	}
	var ps []api.PoolView
	f.api("/api/v1/pools", &ps)
	for _, p := range ps {
		n.Pools[p.Name] = [2]int{p.Live, p.Idle}
	}
	return n
}

// agree reloads a page until what it shows equals the API's figures (the
// manager may still be settling), then returns them.
func agree(t *testing.T, b *browser, f *fleet, path, ready string, read func(apiNumbers) (string, string)) apiNumbers {
	t.Helper()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		b.nav(f, path, ready)
		n := f.numbers()
		got, want := read(n)
		if got == want {
			return n
		}
		last = fmt.Sprintf("page shows %s, API says %s", got, want)
		if time.Now().After(deadline) {
			t.Fatalf("%s never agreed with the API: %s", path, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestDashboard(t *testing.T) {
	b := newBrowser(t)
	f := newFleet(t)
	populate(t, f)
	b.login(f, adminToken)
	if role := b.text("#role"); role != "admin" {
		t.Fatalf("signed in as %q", role)
	}
	var cookie string
	b.eval(`document.cookie`, &cookie)
	if cookie != "" {
		t.Fatalf("the session cookie is readable from scripts (not HttpOnly): %q", cookie)
	}

	t.Run("Overview", func(t *testing.T) {
		b.t = t
		agree(t, b, f, "/ui/", "#queued", func(n apiNumbers) (string, string) {
			var ui struct {
				Queued   int
				Machines map[string]int
			}
			b.eval(`({queued: +document.querySelector('#queued').textContent,
				machines: Object.fromEntries([...document.querySelectorAll('#machines td[data-state]')]
					.filter(td => +td.textContent > 0).map(td => [td.dataset.state, +td.textContent]))})`, &ui)
			return fmt.Sprint(ui.Queued, ui.Machines), fmt.Sprint(n.Queued, n.ByState)
		})
		if alerts := b.text("#alerts"); !strings.Contains(alerts, "Pool arm is failing") || !strings.Contains(alerts, "quota exceeded") {
			t.Fatalf("alerts: %q", alerts)
		}
		// The charts drew (uPlot puts a canvas in each).
		var canvases int
		b.eval(`document.querySelectorAll('#charts canvas').length`, &canvases)
		if canvases != 2 {
			t.Fatalf("%d chart canvases, want 2", canvases)
		}
		var started string
		b.eval(`document.querySelector('#started').textContent`, &started)
		if started != "3" {
			t.Fatalf("started jobs in the last 6h: %s, want 3", started)
		}
		b.screenshot("overview")
		b.noErrors()
	})

	t.Run("Pools", func(t *testing.T) {
		b.t = t
		agree(t, b, f, "/ui/pools", "#pools", func(n apiNumbers) (string, string) {
			var ui map[string][2]int
			b.eval(`Object.fromEntries([...document.querySelectorAll('#pools tr[data-pool]')].map(tr =>
				[tr.dataset.pool, [+tr.querySelector('.live').dataset.live, +tr.querySelector('.idle').dataset.idle]]))`, &ui)
			return fmt.Sprint(ui), fmt.Sprint(n.Pools)
		})
		if s := b.text(`tr[data-pool="arm"] .status`); !strings.Contains(s, "failing") {
			t.Fatalf("arm status %q", s)
		}
		b.screenshot("pools")
		b.noErrors()
	})

	t.Run("Jobs", func(t *testing.T) {
		b.t = t
		agree(t, b, f, "/ui/jobs?tab=queued", "#jobs", func(n apiNumbers) (string, string) {
			var ui [3]int
			b.eval(`[+document.querySelector('#count-queued').textContent, +document.querySelector('#count-running').textContent,
				document.querySelectorAll('#jobs tr[data-job]').length]`, &ui)
			return fmt.Sprint(ui), fmt.Sprint([3]int{n.Queued, n.Running, n.Queued})
		})
		// Each waiting job says why.
		if r := b.text(`#jobs tr[data-job="11"] .reason`); !strings.Contains(r, "matches labels [gpu self-hosted]") {
			t.Fatalf("gpu job's reason: %q", r)
		}
		if r := b.text(`#jobs tr[data-job="9"] .reason`); r == "" {
			t.Fatal("docker job waits without a reason")
		}
		b.screenshot("jobs")
		b.nav(f, "/ui/jobs?tab=done", `#jobs tr[data-job="2"]`)
		if c := b.text(`#jobs tr[data-job="2"] .conclusion`); c != "failure" {
			t.Fatalf("job 2 conclusion %q", c)
		}
		b.noErrors()
	})

	t.Run("Instances", func(t *testing.T) {
		b.t = t
		agree(t, b, f, "/ui/instances", "#instances", func(n apiNumbers) (string, string) {
			var rows int
			b.eval(`document.querySelectorAll('#instances tr[data-instance]').length`, &rows)
			total := 0
			for _, c := range n.ByState {
				total += c
			}
			return fmt.Sprint(rows), fmt.Sprint(total)
		})
		b.screenshot("instances")
		// An instance's page shows its timeline from the event log.
		var name string
		b.eval(`document.querySelector('#instances tr[data-instance]').dataset.instance`, &name)
		b.nav(f, "/ui/instances/"+name, "#timeline")
		if tl := b.text("#timeline"); !strings.Contains(tl, "creating → running") {
			t.Fatalf("timeline of %s: %q", name, tl)
		}
		b.screenshot("instance")
		b.noErrors()
	})

	t.Run("Usage", func(t *testing.T) {
		b.t = t
		b.nav(f, "/ui/usage", "#no-usage")
		b.screenshot("usage")
		b.noErrors()
	})

	t.Run("LiveUpdateWhenJobFinishes", func(t *testing.T) {
		b.t = t
		b.nav(f, "/ui/jobs?tab=done", "#jobs")
		waitLive(t, b)
		var marker bool
		b.eval(`window.notReloaded = true`, &marker)
		var running []core.Job
		f.api("/api/v1/jobs?state=in_progress", &running)
		if len(running) != 1 || running[0].ID != 3 {
			t.Fatalf("running jobs: %+v", running)
		}
		f.hook("completed", 3, x64, running[0].RunnerName, "success")
		waitUntil(t, "job 3 in the done list without a reload", func() bool {
			var n int
			b.eval(`document.querySelectorAll('#jobs tr[data-job="3"]').length`, &n)
			return n == 1
		})
		b.eval(`window.notReloaded === true`, &marker)
		if !marker {
			t.Fatal("the page was reloaded instead of updated in place")
		}
		b.noErrors()
	})

	t.Run("AdminDrainsWithConfirmation", func(t *testing.T) {
		b.t = t
		b.nav(f, "/ui/pools", "#drain-docker")
		b.click("#drain-docker")
		b.waitFor("#question")
		if !poolEnabled(f, "docker") {
			t.Fatal("pool drained before confirmation")
		}
		b.screenshot("confirm")
		b.click("#confirm")
		b.waitFor("#flash")
		if poolEnabled(f, "docker") {
			t.Fatal("pool still enabled after confirmed drain")
		}
		b.click("#enable-docker")
		b.waitFor("#question")
		b.click("#confirm")
		b.waitFor("#flash")
		if !poolEnabled(f, "docker") {
			t.Fatal("pool not enabled again")
		}
		b.noErrors()
	})

	t.Run("ViewerCannotChange", func(t *testing.T) {
		b.t = t
		v := newBrowser(t)
		// The refusals below are 403 answers, which Chromium logs as network
		// errors; console errors and exceptions still fail the test.
		v.allowNetErrors = true
		v.login(f, viewerToken)
		if role := v.text("#role"); role != "viewer" {
			t.Fatalf("viewer signed in as %q", role)
		}
		v.nav(f, "/ui/pools", "#pools")
		var buttons int
		v.eval(`document.querySelectorAll('#pools a.button').length`, &buttons)
		if buttons != 0 {
			t.Fatalf("viewer sees %d action buttons", buttons)
		}
		v.nav(f, "/ui/confirm/pool-drain?pool=standard", "#message")
		if m := v.text("#message"); !strings.Contains(m, "viewer token") {
			t.Fatalf("confirm page for a viewer: %q", m)
		}
		// Even a well-formed POST with the viewer's own CSRF token is refused.
		var status int
		v.nav(f, "/ui/pools", "#pools")
		v.run(chromedp.Evaluate(`(async () => {
				const csrf = document.querySelector('input[name=csrf]').value;
				const r = await fetch('/ui/actions/pool-drain', {method: 'POST', body: new URLSearchParams({csrf, pool: 'standard'})});
				return r.status;
			})()`, &status, func(p *runtimeEvaluate) *runtimeEvaluate { return p.WithAwaitPromise(true) }))
		if status != http.StatusForbidden {
			t.Fatalf("viewer POST: status %d", status)
		}
		if !poolEnabled(f, "standard") {
			t.Fatal("a viewer drained a pool")
		}
		// Nothing secret on any page a viewer (or admin) sees.
		for _, p := range []string{"/ui/", "/ui/pools", "/ui/jobs", "/ui/instances"} {
			var html string
			v.nav(f, p, "main")
			v.eval(`document.documentElement.outerHTML`, &html)
			for _, secret := range []string{adminToken, viewerToken, hookSecret, "jit", "encoded_jit_config"} {
				if strings.Contains(strings.ToLower(html), strings.ToLower(secret)) {
					t.Fatalf("%s shows %q", p, secret)
				}
			}
		}
		v.noErrors()
	})

	t.Run("BadTokenAndForgedSession", func(t *testing.T) {
		b.t = t
		resp, err := http.PostForm(f.url("/ui/login"), url.Values{"token": {"not-the-token-but-long-enough-to-look-real"}})
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "That token is not valid") ||
			strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
			t.Fatalf("wrong token: %d\n%s", resp.StatusCode, body)
		}
		for _, cookie := range []string{"admin.99999999999.forged", "admin.1.x", "garbage"} {
			req, _ := http.NewRequest(http.MethodGet, f.url("/ui/pools"), nil)
			req.AddCookie(&http.Cookie{Name: "paddock_session", Value: cookie})
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?expired=1" {
				t.Fatalf("cookie %q: %d → %q", cookie, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		lb := newBrowser(t)
		lb.nav(f, "/ui/login", "#token")
		lb.run(chromedp.SendKeys("#token", "wrong", chromedp.ByQuery))
		lb.click("#signin")
		lb.waitFor("#error")
		lb.screenshot("login")
	})

	t.Run("StreamResumesAfterRestart", func(t *testing.T) {
		b.t = t
		b.nav(f, "/ui/", "#queued")
		waitLive(t, b)
		b.mu.Lock()
		b.allowNetErrors = true
		b.mu.Unlock()
		before := f.numbers().Queued
		f.shutdown()
		waitUntil(t, "the browser noticing the manager is gone", func() bool {
			return b.text("#live-status") != "live"
		})
		// Another writer (a second replica, say) logs an event while this
		// manager is down; the browser must get it on reconnecting, which
		// only resuming by Last-Event-ID does.
		marker := f.appendEvent(core.Event{Kind: core.EventPoolDegraded, Pool: "elsewhere", Reason: "written while down"})
		f.start(f.addr)
		waitUntil(t, "the browser reconnecting", func() bool {
			var opens int
			b.eval(`window.paddockStream.opens`, &opens)
			return opens >= 2
		})
		waitUntil(t, "the event written while down delivered", func() bool {
			var ids []string
			b.eval(`window.paddockStream.ids`, &ids)
			return slices.Contains(ids, strconv.FormatInt(marker, 10))
		})
		// A job queued after the restart shows up live: the session and the
		// stream both survived.
		f.hook("queued", 40, gpu, "", "")
		waitUntil(t, "the new job counted live", func() bool {
			return b.text("#queued") == fmt.Sprint(before+1)
		})
		// The refreshed region has its charts drawn again.
		waitUntil(t, "charts redrawn after a live refresh", func() bool {
			var canvases int
			b.eval(`document.querySelectorAll('#charts canvas').length`, &canvases)
			return canvases == 2
		})
		b.mu.Lock()
		b.allowNetErrors = false
		b.mu.Unlock()
		b.noErrors()
	})
}

type runtimeEvaluate = runtime.EvaluateParams

func waitLive(t *testing.T, b *browser) {
	t.Helper()
	waitUntil(t, "live stream connected", func() bool { return b.text("#live-status") == "live" })
}

func poolEnabled(f *fleet, name string) bool {
	var p api.PoolView
	f.api("/api/v1/pools/"+name, &p)
	return p.Enabled
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}
