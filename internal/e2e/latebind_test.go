package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

const otherRepo = "other/app"

type instRow struct {
	Name       string `json:"name"`
	Unbound    bool   `json:"unbound"`
	BoundJobID int64  `json:"bound_job_id"`
	EntityID   string `json:"entity_id"`
	Runner     string `json:"runner_state"`
}

func (e *env) liveInstances() []instRow {
	var rows []instRow
	if e.api(http.MethodGet, "/api/v1/instances?all=true", nil, &rows) != http.StatusOK {
		return nil
	}
	return rows
}

// TestKill9DuringLateBinding: a shared pool keeps two warm machines waiting
// unbound (the real bootstrap, long-polling the real metadata endpoint); a
// job of another entity binds one, and the manager is killed with SIGKILL as
// soon as the binding is recorded. After the restart every job completes on
// its own runner, no machine was bound twice, and nothing leaks.
func TestKill9DuringLateBinding(t *testing.T) {
	const jobs = 4
	e := newEnv(t, 6)
	raw, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "entities:\n", fmt.Sprintf("entities:\n  - {forge: sim, kind: repository, name: %s}\n", otherRepo), 1)
	cfg = strings.Replace(cfg, "bootstrap_timeout: 1m}", fmt.Sprintf("bootstrap_timeout: 1m, min_idle: 2, entities: [%s]}", otherRepo), 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m := e.start()
	e.waitFor("two warm machines waiting unbound", time.Minute, func() bool {
		n := 0
		for _, r := range e.liveInstances() {
			if r.Unbound && r.BoundJobID == 0 && r.Runner == "installing" {
				n++
			}
		}
		return n == 2
	})
	queue := func(i int) {
		if _, err := e.sim.QueueJob(forgesim.JobSpec{Repo: otherRepo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("o%02d", i), Duration: 300 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	queue(0)
	e.waitFor("a binding recorded", time.Minute, func() bool {
		for _, r := range e.liveInstances() {
			if r.BoundJobID != 0 {
				return true
			}
		}
		return false
	})
	m.kill9()
	for i := 1; i < jobs; i++ {
		queue(i) // webhooks lost while down: the restart's poll makes up for them
	}
	e.start()
	e.waitFor("every job completed", 3*time.Minute, func() bool { return e.completed() == jobs })
	bound := map[int64]string{}
	for _, r := range e.liveInstances() {
		if r.BoundJobID == 0 {
			continue
		}
		if prev, dup := bound[r.BoundJobID]; dup {
			t.Errorf("job %d bound to two machines: %s and %s", r.BoundJobID, prev, r.Name)
		}
		bound[r.BoundJobID] = r.Name
	}
	if len(bound) == 0 {
		t.Fatal("no machine was late-bound")
	}
	t.Logf("%d jobs completed; %d late bindings", jobs, len(bound))
	e.checkOneJobPerRunner()
	e.teardownAndCheckLeaks()
}
