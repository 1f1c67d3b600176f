package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

// TestKill9DuringBurst kills the manager with SIGKILL in the middle of a
// 50-job burst and restarts it. Webhooks sent while it is down are lost, as
// with GitHub. Every job must still complete, on its own runner, and after
// teardown no machine, runner registration or live instance may remain.
func TestKill9DuringBurst(t *testing.T) {
	const jobs = 50
	e := newEnv(t, 10)
	m := e.start()
	for i := 0; i < jobs; i++ {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("j%02d", i), Duration: 700 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor("some jobs done", 2*time.Minute, func() bool { return e.completed() >= 12 })
	m.kill9()
	killedAt := e.completed()
	time.Sleep(1500 * time.Millisecond) // deliveries in this window are lost
	e.start()
	e.waitFor("every job completed", 4*time.Minute, func() bool { return e.completed() == jobs })
	t.Logf("killed with %d/%d jobs done; all %d completed after restart", killedAt, jobs, jobs)

	runnerOf := map[string]int64{}
	for _, j := range e.sim.Jobs() {
		if j.Conclusion != forgesim.ConclusionSuccess {
			t.Errorf("job %d: conclusion %q", j.ID, j.Conclusion)
		}
		if prev, dup := runnerOf[j.RunnerName]; dup {
			t.Errorf("runner %s ran two jobs (%d and %d)", j.RunnerName, prev, j.ID)
		}
		runnerOf[j.RunnerName] = j.ID
	}

	// Teardown: disable the pool and let the manager drain it.
	if code := e.api(http.MethodPatch, "/api/v1/pools/linux", map[string]any{"enabled": false}, nil); code != http.StatusOK {
		t.Fatalf("disable pool: HTTP %d", code)
	}
	e.waitFor("no live instance", time.Minute, func() bool {
		var live []map[string]any
		e.api(http.MethodGet, "/api/v1/instances", nil, &live)
		return len(live) == 0
	})
	e.waitFor("no machine left at the provider", 30*time.Second, func() bool { return len(e.machines()) == 0 })
	e.waitFor("no runner registration left at the forge", 30*time.Second, func() bool { return len(e.sim.Runners()) == 0 })
}
