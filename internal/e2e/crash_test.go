package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// TestKill9DuringBurst kills the manager with SIGKILL in the middle of a
// 50-job burst and restarts it. Webhooks sent while it is down are lost, as
// with GitHub. Every job must still complete, on its own runner, and after
// teardown no machine, runner registration or live instance may remain.
func TestKill9DuringBurst(t *testing.T) {
	const jobs = 50
	e := newEnv(t, 10)
	m := e.start()
	queue := func(i int) {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("j%02d", i), Duration: 700 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < jobs-1; i++ {
		queue(i)
	}
	e.waitFor("some jobs done", 2*time.Minute, func() bool { return e.completed() >= 12 })
	m.kill9()
	killedAt := e.completed()
	// The last job is queued while the manager is down: its webhook (and
	// any other sent meanwhile) is lost, which the restart must make up for.
	failed := e.sim.Stats().WebhooksFailed
	queue(jobs - 1)
	e.waitFor("a webhook lost while the manager is down", time.Minute, func() bool { return e.sim.Stats().WebhooksFailed > failed })
	e.start()
	e.waitFor("every job completed", 4*time.Minute, func() bool { return e.completed() == jobs })
	t.Logf("killed with %d/%d jobs done; all %d completed after restart", killedAt, jobs, jobs)

	e.checkOneJobPerRunner()
	e.teardownAndCheckLeaks()
}

// teardownAndCheckLeaks disables the pool, lets the manager drain it, and
// fails the test if any machine, runner registration or live instance remains.
func (e *env) teardownAndCheckLeaks() {
	t := e.t
	t.Helper()
	if code := e.api(http.MethodPatch, "/api/v1/pools/linux", map[string]any{"enabled": false}, nil); code != http.StatusOK {
		t.Fatalf("disable pool: HTTP %d", code)
	}
	e.waitFor("no live instance", 2*time.Minute, func() bool {
		// Only an answered listing counts: an error body decodes as no instance.
		var live []map[string]any
		return e.api(http.MethodGet, "/api/v1/instances", nil, &live) == http.StatusOK && len(live) == 0
	})
	// An instance is marked deleted only after the provider's Delete returned,
	// which removes the machine's directory: a directory left now is a leak,
	// not slowness. The wait is for stray machines the reconciler removes.
	if !testutil.Within(time.Minute, func() bool { return len(e.machines()) == 0 }) {
		t.Fatalf("machines left at the provider after every instance was deleted: %s", e.describeMachines())
	}
	e.waitFor("no runner registration left at the forge", time.Minute, func() bool { return len(e.sim.Runners()) == 0 })
}

// describeMachines says, for each machine directory left, whether it still
// has its record and whether that process lives: which crash window left it.
func (e *env) describeMachines() string {
	var out []string
	for _, name := range e.machines() {
		dir := filepath.Join(e.dir, "state", "machines", "local", name)
		rec, err := os.ReadFile(filepath.Join(dir, "machine.json"))
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s: no machine.json (%v)", name, err))
		default:
			out = append(out, fmt.Sprintf("%s: machine.json %s", name, rec))
		}
		if log, err := os.ReadFile(filepath.Join(dir, "machine.log")); err == nil {
			out = append(out, "  log tail: "+tail(string(log), 500))
		}
	}
	return strings.Join(out, "\n")
}

// checkOneJobPerRunner fails the test for a job that did not succeed or a
// runner that ran more than one job.
func (e *env) checkOneJobPerRunner() {
	e.t.Helper()
	runnerOf := map[string]int64{}
	for _, j := range e.sim.Jobs() {
		if j.Conclusion != forgesim.ConclusionSuccess {
			e.t.Errorf("job %d: conclusion %q", j.ID, j.Conclusion)
		}
		if prev, dup := runnerOf[j.RunnerName]; dup {
			e.t.Errorf("runner %s ran two jobs (%d and %d)", j.RunnerName, prev, j.ID)
		}
		runnerOf[j.RunnerName] = j.ID
	}
}

// TestLostDuplicatedWebhooksAndFlakyForge: a third of the webhooks are lost,
// a third delivered twice, and 5% of REST calls fail with 500. Every job still
// completes exactly once on its own runner, and nothing leaks.
func TestLostDuplicatedWebhooksAndFlakyForge(t *testing.T) {
	const jobs = 20
	e := newEnv(t, 8)
	if err := e.sim.SetFaults(forgesim.Faults{WebhookDropRate: 0.33, WebhookDuplicateRate: 0.33, ErrorRate: 0.05}); err != nil {
		t.Fatal(err)
	}
	e.start()
	for i := 0; i < jobs; i++ {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"linux"}, Duration: 300 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor("every job completed", 3*time.Minute, func() bool { return e.completed() == jobs })
	st := e.sim.Stats()
	t.Logf("webhooks: %d delivered, %d dropped, %d duplicated", st.WebhooksDelivered, st.WebhooksDropped, st.WebhooksDuplicated)
	if st.WebhooksDropped == 0 || st.WebhooksDuplicated == 0 {
		t.Fatalf("fault injection did not happen: %+v", st)
	}
	e.checkOneJobPerRunner()
	e.sim.SetFaults(forgesim.Faults{})
	e.teardownAndCheckLeaks()
}
