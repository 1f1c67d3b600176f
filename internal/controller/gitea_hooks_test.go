package controller_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// newGiteaHookStack is newGiteaStack with the sim's webhooks delivered to
// Paddock's real webhook intake, as a Gitea with a repository webhook does.
func newGiteaHookStack(t *testing.T, poolLabel string, idleGrace time.Duration) *giteaStack {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g := newGiteaStackGrace(t, forgesim.Options{WebhookURL: srv.URL + "/webhooks/gitea", WebhookSecret: "s"},
		poolLabel, idleGrace)
	(&intake.Handler{Store: g.st, Events: g.ctl, Metrics: metrics.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	return g
}

// answered waits until the sim has n answered deliveries and returns them.
func answered(t *testing.T, sim *forgesim.Sim, n int) []forgesim.Delivery {
	t.Helper()
	var ds []forgesim.Delivery
	if !testutil.Within(10*time.Second, func() bool {
		ds = sim.Deliveries()
		return len(ds) >= n && ds[n-1].Status != 0
	}) {
		t.Fatalf("deliveries %+v; want %d answered", ds, n)
	}
	return ds
}

// Real Gitea 1.25 sends workflow_job "waiting" for a job blocked on needs:.
// Paddock answers 202 and neither stores the job nor makes a machine for it;
// the job is queued (and gets its machine) once the job it needs succeeds.
func TestGiteaWaitingJobIsIgnoredUntilQueued(t *testing.T) {
	g := newGiteaHookStack(t, "linux", time.Hour)
	first, err := g.sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := g.sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Needs: first.ID})
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != forgesim.StatusWaiting {
		t.Fatalf("job needing another is %q; want waiting", second.Status)
	}
	ds := answered(t, g.sim, 2)
	if ds[0].Action != "queued" || ds[0].Status != http.StatusOK {
		t.Fatalf("queued delivery %+v; want 200", ds[0])
	}
	if ds[1].Action != "waiting" || ds[1].JobID != second.ID || ds[1].Status != http.StatusAccepted {
		t.Fatalf("waiting delivery %+v; want 202 (ignored)", ds[1])
	}
	// The waiting delivery was answered only after Paddock handled it, so
	// the store already shows what it did with it.
	js, err := g.st.ListJobs(g.ctx, store.JobFilter{ID: second.ID})
	if err != nil || len(js) != 0 {
		t.Fatalf("waiting job stored as %+v, %v; want not stored", js, err)
	}
	if _, err := g.sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Needs: 999}); err == nil {
		t.Fatal("a job needing an unknown job was queued; want an error")
	}
}

// Gitea cancels the queued jobs of a superseded run with a "completed"
// webhook, conclusion cancelled and no runner. Paddock retires the job and
// the machine it made for it does not outlive it.
func TestGiteaSupersededQueuedJobRetiresItsMachine(t *testing.T) {
	// A short idle grace: the machine's runner never took a job, so once the
	// job is gone it is surplus and goes after the grace.
	g := newGiteaHookStack(t, "linux", 300*time.Millisecond)
	j, err := g.sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	if err != nil {
		t.Fatal(err)
	}
	var spec provider.Spec
	if !testutil.Within(10*time.Second, func() bool {
		for _, n := range listNames(t, g.prov) {
			spec, _ = g.prov.spec(n)
		}
		return spec.Token != ""
	}) {
		t.Fatal("no machine was made for the queued job")
	}
	// The machine boots: it fetches its runner (registered at the forge) and
	// reports the runner idle, waiting for the job.
	if _, err := g.ctl.RunnerConfigFor(g.ctx, spec.Token); err != nil {
		t.Fatal(err)
	}
	if err := g.ctl.Report(g.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		t.Fatal(err)
	}
	if rs := g.sim.Runners(); len(rs) != 1 {
		t.Fatalf("forge runners %+v; want the machine's", rs)
	}
	if err := g.sim.SupersedeJob(j.ID); err != nil {
		t.Fatal(err)
	}
	ds := answered(t, g.sim, 2)
	if ds[1].Action != "completed" || ds[1].Status != http.StatusOK {
		t.Fatalf("cancel delivery %+v; want completed, 200", ds[1])
	}
	var got []core.Job
	if !testutil.Within(10*time.Second, func() bool {
		got, _ = g.st.ListJobs(g.ctx, store.JobFilter{ID: j.ID})
		return len(got) == 1 && got[0].State == core.JobCompleted
	}) {
		t.Fatalf("job after supersede %+v; want completed", got)
	}
	var live []core.Instance
	if !testutil.Within(10*time.Second, func() bool {
		live, _ = g.st.ListInstances(g.ctx, store.InstanceFilter{Live: true})
		_, deletes := g.prov.counts()
		return len(live) == 0 && deletes == 1 && len(g.sim.Runners()) == 0
	}) {
		t.Fatalf("instances after the job was cancelled: %+v, forge runners %+v; want the machine made for it and its runner deleted",
			live, g.sim.Runners())
	}
	if err := g.sim.SupersedeJob(j.ID); err == nil {
		t.Fatal("superseding a completed job succeeded; want an error")
	}
}
