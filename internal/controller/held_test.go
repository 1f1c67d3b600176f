package controller_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
)

// poolInstances counts the instances ever made for the named pool.
func poolInstances(h *harness, name string) int {
	h.t.Helper()
	pools, err := h.st.ListPools(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	all, err := h.st.ListInstances(h.ctx, store.InstanceFilter{})
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, p := range pools {
		for _, i := range all {
			if p.Name == name && i.PoolID == p.ID {
				n++
			}
		}
	}
	return n
}

// simJob queues a job at the simulator (so the controller's own listing
// finds it too) and returns it as a poll would list it.
func simJob(h *harness, label string) core.Job {
	h.t.Helper()
	j, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"self-hosted", label}})
	if err != nil {
		h.t.Fatal(err)
	}
	return core.Job{ID: j.ID, RunID: j.RunID, Repository: "o/r", Labels: j.Labels, QueuedAt: j.CreatedAt}
}

// exitUnseen boots the one running machine's runner and has it report done,
// with no listing having seen it take a job.
func exitUnseen(h *harness) {
	h.t.Helper()
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		h.t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerDone, "exit status 0"); err != nil {
		h.t.Fatal(err)
	}
}

// On a polled entity a runner can take its job and finish between two
// listings, so the job still counts queued when the machine says its runner
// exited. No machine is made for that job until a listing that began after
// the exit shows it still queued; then it gets one (the runner may have
// exited without taking it).
func TestPolledRunnerThatExitedHoldsAJobUntilTheNextListing(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux"), pool("gpu", "gpu")})
	a := simJob(h, "linux")
	h.ctl.Listed(h.entity.ID, time.Now()) // as the poller reports its first listing
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the linux job", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	exitUnseen(h)
	// A listing cut short confirms nothing; the machine made for the gpu job
	// shows a decision was taken after the exit.
	b := simJob(h, "gpu")
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, false); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the gpu job", func() bool { return poolInstances(h, "gpu") == 1 })
	if n := poolInstances(h, "linux"); n != 1 {
		t.Fatalf("%d linux machines: a second one was made for the job the first most likely ran", n)
	}
	// The next full listing began after the exit and still shows the job.
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("the linux job gets its machine again", func() bool { return poolInstances(h, "linux") == 2 })
}

// A listing that began before the runner exited cannot have seen whether it
// took the job: it releases nothing.
func TestListingFromBeforeTheExitKeepsTheHold(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux"), pool("gpu", "gpu")})
	a := simJob(h, "linux")
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the linux job", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	began := time.Now()
	exitUnseen(h)
	b := simJob(h, "gpu")
	h.ctl.Listed(h.entity.ID, began)
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the gpu job", func() bool { return poolInstances(h, "gpu") == 1 })
	if n := poolInstances(h, "linux"); n != 1 {
		t.Fatalf("%d linux machines: a listing older than the exit released the hold", n)
	}
}

// An entity no poller lists learns of started jobs by webhook before their
// runner can finish: a runner that exits there holds nothing back, so a job
// still queued gets a new machine at once.
func TestWebhookRunnerThatExitedHoldsNothing(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	inst, token := bootedMachine(t, h, 80)
	if err := h.ctl.Report(h.ctx, token, core.RunnerDone, "exit status 0"); err != nil {
		t.Fatal(err)
	}
	h.eventually("job 80 gets a second machine", func() bool {
		for _, i := range h.live() {
			if i.Name != inst.Name {
				return true
			}
		}
		return false
	})
}
