package scaleset_test

import (
	"net/http"
	"testing"
	"time"
)

const sessionsRoute = "/_actions/_apis/runtime/runnerscalesets/{id}/sessions"

func TestJobsFlowThroughScaleSet(t *testing.T) {
	h := newHarness(t, 3)
	h.startMgr()
	const jobs = 5
	h.queue(jobs)
	h.waitDone("every job to complete through the scale set")

	sets := h.sim.ScaleSets()
	if len(sets) != 1 || sets[0].Name != setName {
		t.Fatalf("want one scale set named %q, got %+v", setName, sets)
	}
	if sets[0].Capacity != 3 {
		t.Errorf("max capacity sent on polls = %d, want the pool's max_runners 3", sets[0].Capacity)
	}
	for _, j := range h.sim.Jobs() {
		if j.Conclusion != "success" {
			t.Errorf("job %d: conclusion %q", j.ID, j.Conclusion)
		}
	}
	// Runners were minted through the scale set, never through the REST JIT endpoint.
	if n := h.calls("/actions/runners/generate-jitconfig", 0); n != 0 {
		t.Errorf("REST generate-jitconfig called %d times for a scale-set pool", n)
	}
	minted := h.calls("/generatejitconfig", http.StatusOK)
	if minted != h.prov.createCount() || minted < jobs {
		t.Errorf("scale-set JIT configs %d, machines %d, jobs %d", minted, h.prov.createCount(), jobs)
	}
	if runners := h.sim.Runners(); len(runners) != 0 {
		t.Errorf("runner registrations left: %+v", runners)
	}
	total := 0
	for route, by := range h.sim.Stats().APICalls {
		for code, c := range by {
			total += c
			t.Logf("forge calls: %-70s %d → %d", route, code, c)
		}
	}
	t.Logf("forge API calls: %d for %d jobs (%.1f per job, long-polls included)", total, jobs, float64(total)/jobs)

	// A changed max_runners is the capacity GitHub hears on the next poll.
	p, err := h.st.GetPool(h.ctx, h.pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.MaxRunners = 2
	if err := h.st.UpdatePool(h.ctx, &p); err != nil {
		t.Fatal(err)
	}
	h.eventually("capacity 2 on a poll", 10*time.Second, func() bool { return h.sim.ScaleSets()[0].Capacity == 2 })
}

func TestReassignmentDoesNotLeakMachines(t *testing.T) {
	h := newHarness(t, 4)
	// Every assignment is withdrawn three times (JobCompleted, result
	// canceled, no runner) before it sticks, as GitHub may do.
	if err := h.sim.SetScaleSetReassign(3, 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetScaleSetReassign(4, 0); err == nil {
		t.Fatal("sim accepted four re-assignments; GitHub stops at three")
	}
	h.startMgr()
	const jobs = 2
	h.queue(jobs)
	h.waitDone("re-assigned jobs to complete")
	if n := h.prov.createCount(); n != jobs {
		t.Errorf("machines created = %d for %d jobs re-assigned 3 times each; want one per job", n, jobs)
	}
	for _, j := range h.sim.Jobs() {
		if j.Conclusion != "success" {
			t.Errorf("job %d: conclusion %q", j.ID, j.Conclusion)
		}
	}
}

func TestStolenSessionIsRecovered(t *testing.T) {
	h := newHarness(t, 2)
	h.startMgr()
	h.queue(1)
	h.waitDone("the first job")

	// Another process takes the session: ours turns invalid (401), the
	// refresh fails, a new session is refused with 409 while the other one
	// lives, and ours takes over once it expires.
	if err := h.sim.StealScaleSetSession(setName, "intruder"); err != nil {
		t.Fatal(err)
	}
	h.eventually("a 409 conflict", 10*time.Second, func() bool { return h.calls(sessionsRoute, http.StatusConflict) > 0 })
	h.eventually("the session back with its owner", 20*time.Second, func() bool {
		return h.sim.ScaleSets()[0].SessionOwner == owner
	})
	h.queue(2)
	h.waitDone("jobs after the session was recovered")
}

func TestRestartResumesSession(t *testing.T) {
	h := newHarness(t, 2)
	h.startMgr()
	h.queue(1)
	h.waitDone("the first job")
	h.stopMgr()
	if s := h.sim.ScaleSets()[0]; s.SessionOwner != "" {
		t.Fatalf("a clean stop left the session with %q", s.SessionOwner)
	}
	conflicts := h.calls(sessionsRoute, http.StatusConflict)

	// Jobs assigned while no listener runs wait in the message queue.
	h.queue(2)
	h.eventually("messages queued for the stopped listener", 5*time.Second, func() bool {
		return h.sim.ScaleSets()[0].Pending > 0
	})
	h.startMgr()
	h.waitDone("jobs assigned while the listener was down")
	if n := h.calls(sessionsRoute, http.StatusConflict); n != conflicts {
		t.Errorf("a restart after a clean stop met %d session conflicts", n-conflicts)
	}

	// A crash leaves the old session open: the next start waits it out.
	h.stopMgr()
	if err := h.sim.StealScaleSetSession(setName, owner); err != nil { // the crashed process's session
		t.Fatal(err)
	}
	h.startMgr()
	h.queue(1)
	h.waitDone("a job after restarting over an orphaned session")
	if h.calls(sessionsRoute, http.StatusConflict) == conflicts {
		t.Error("the orphaned session never answered 409")
	}
}

func TestScalesToStatisticsWhenMessagesAreLost(t *testing.T) {
	h := newHarness(t, 3)
	// Every job message is dropped (GitHub truncates large backlogs): only
	// statistics.TotalAssignedJobs says that runners are wanted.
	h.sim.SetScaleSetMessageLimit(0)
	// Jobs the REST safety-net poll saw queued are never reported finished
	// here; the statistics retire them after the grace.
	h.grace = time.Second
	h.startMgr()
	h.queue(3)
	h.waitDone("jobs known only from statistics")
	if n := h.prov.createCount(); n < 3 {
		t.Errorf("machines created = %d; want at least one per assigned job (3)", n)
	}
}
