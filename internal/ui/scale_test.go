package ui_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/events"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
	"github.com/paddock-ci/paddock/internal/ui"
)

// seedLarge fills a store with 10,000 instances, 1,000 jobs and 20,000
// events, spread over the last hours like a busy fleet's history.
func seedLarge(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}}
	must(t, st.CreateForge(ctx, &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityOrganization, Name: "acme", Intake: core.IntakeWebhook}
	must(t, st.CreateEntity(ctx, &e))
	var pools []core.Pool
	for k, name := range []string{"standard", "docker", "large", "arm"} {
		p := core.Pool{Name: name, EntityID: e.ID, Provider: "mem", Image: "i", Flavor: "f", OSType: "linux", Arch: "amd64",
			Labels: []string{"self-hosted", name}, MaxRunners: 4000, MinIdle: 10 * k, Enabled: true}
		must(t, st.CreatePool(ctx, &p))
		pools = append(pools, p)
	}
	states := []struct {
		s core.InstanceState
		r core.RunnerState
	}{{core.InstanceRunning, core.RunnerActive}, {core.InstanceRunning, core.RunnerIdle}, {core.InstanceCreating, core.RunnerPending},
		{core.InstanceRunning, core.RunnerActive}, {core.InstanceError, core.RunnerFailed}, {core.InstancePendingDelete, core.RunnerDone}}
	for b := 0; b < 10; b++ {
		batch := make([]*core.Instance, 0, 1000)
		for k := 0; k < 1000; k++ {
			n := b*1000 + k
			s := states[n%len(states)]
			i := &core.Instance{Name: fmt.Sprintf("runner-%05d", n), PoolID: pools[n%len(pools)].ID, State: s.s, Runner: s.r,
				Labels: []string{"self-hosted"}}
			if s.s == core.InstanceError {
				i.Fault = "provider: quota exceeded"
			}
			batch = append(batch, i)
		}
		must(t, st.CreateInstances(ctx, batch))
	}
	now := time.Now().UTC()
	for id := int64(1); id <= 1000; id++ {
		q := now.Add(-time.Duration(id*19) * time.Second)
		j := core.Job{ID: id, EntityID: e.ID, Repository: "acme/app", Name: fmt.Sprintf("build-%d", id), Workflow: "ci",
			Labels: []string{"self-hosted", "standard"}, State: core.JobQueued, QueuedAt: q, ReceivedAt: q}
		switch id % 4 {
		case 1:
			j.State, j.StartedAt, j.RunnerName = core.JobInProgress, q.Add(time.Duration(id%90)*time.Second), fmt.Sprintf("runner-%05d", id)
		case 2, 3:
			j.State, j.StartedAt, j.CompletedAt, j.Conclusion = core.JobCompleted, q.Add(time.Duration(id%300)*time.Second),
				q.Add(10*time.Minute), "success"
		}
		_, err := st.UpsertJob(ctx, &j)
		must(t, err)
	}
	for b := 0; b < 20; b++ {
		evs := make([]*core.Event, 1000)
		for k := range evs {
			n := b*1000 + k
			evs[k] = &core.Event{Kind: core.EventInstanceState, Instance: fmt.Sprintf("runner-%05d", n%10000),
				PoolID: pools[n%len(pools)].ID, From: "creating", State: "running", At: now.Add(-time.Duration(20000-n) * time.Second)}
		}
		must(t, st.AppendEvents(ctx, evs))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDashboardAtScale loads each page of a dashboard over 10,000
// instances and 1,000 jobs in Chromium and reports how long the browser took
// from navigation to the load event (server time included). The target is
// under 1 s; the assertion is a generous 10 s so a loaded CI machine does not
// fail it, and the measured times are logged.
func TestDashboardAtScale(t *testing.T) {
	b := newBrowser(t)
	st := teststore.Open(t)
	start := time.Now()
	seedLarge(t, st)
	t.Logf("seeded 10,000 instances, 1,000 jobs, 20,000 events in %s", time.Since(start).Round(time.Millisecond))
	stream := &events.Stream{Store: st}
	h, err := ui.New(ui.Options{Store: st, AdminToken: adminToken, Events: stream})
	must(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer stream.Close() // before srv.Close, which waits for open streams
	f := &fleet{t: t, addr: srv.Listener.Addr().String()}
	b.login(f, adminToken)
	for _, p := range []struct{ path, ready string }{
		{"/ui/", "#queued"}, {"/ui/instances", "#instances"}, {"/ui/instances?state=error&pool=arm", "#instances"},
		{"/ui/jobs?tab=queued", "#jobs"}, {"/ui/jobs?tab=done", "#jobs"}, {"/ui/pools", "#pools"},
		{"/ui/instances/runner-09999", "#timeline"},
	} {
		var ms []float64
		for range 3 {
			var load float64
			b.nav(f, p.path, p.ready)
			b.run(chromedp.Poll(`(() => { const n = performance.getEntriesByType('navigation')[0];
					return n && n.loadEventEnd > 0 ? n.loadEventEnd : 0; })()`, &load, chromedp.WithPollingInterval(10*time.Millisecond)))
			ms = append(ms, load)
		}
		sort.Float64s(ms)
		t.Logf("%-40s load event after %4.0f ms (min) %4.0f ms (median) %4.0f ms (max), 3 runs", p.path, ms[0], ms[1], ms[2])
		if ms[1] > 10000 {
			t.Errorf("%s: median %0.f ms, far over the 1 s target", p.path, ms[1])
		}
	}
	var rows int
	b.eval(`document.querySelectorAll('#timeline tbody tr').length`, &rows)
	if rows < 2 {
		t.Fatalf("timeline of runner-09999 has %d rows", rows)
	}
	b.noErrors()
}
