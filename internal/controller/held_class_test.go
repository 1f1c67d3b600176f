package controller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// simJobWith queues a job with these labels at the simulator and returns it
// as a poll would list it.
func simJobWith(h *harness, labels ...string) core.Job {
	h.t.Helper()
	j, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: labels})
	if err != nil {
		h.t.Fatal(err)
	}
	return core.Job{ID: j.ID, RunID: j.RunID, Repository: "o/r", Labels: j.Labels, QueuedAt: j.CreatedAt}
}

// exitUnseenWhere has the running machine that pick selects boot its runner
// and report it done, with no listing having seen it take a job.
func exitUnseenWhere(h *harness, pick func(core.Instance) bool) {
	h.t.Helper()
	i := slices.IndexFunc(h.instances(core.InstanceRunning), pick)
	if i < 0 {
		h.t.Fatal("no running machine to exit")
	}
	inst := h.instances(core.InstanceRunning)[i]
	spec, _ := h.prov.spec(inst.Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		h.t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerDone, "exit status 0"); err != nil {
		h.t.Fatal(err)
	}
}

// spentCase lists two jobs, lets the machine that exit picks finish unseen,
// and returns once a later decision (a machine for a gpu job) was taken.
func spentCase(t *testing.T, pools []core.Pool, first, second []string, exit func(core.Instance) bool) *harness {
	h := newHarness(t, append(pools, pool("gpu", "gpu")))
	a, b := simJobWith(h, first...), simJobWith(h, second...)
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for each job", func() bool { return len(h.instances(core.InstanceRunning)) == 2 })
	exitUnseenWhere(h, exit)
	g := simJobWith(h, "self-hosted", "gpu")
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b, g}, false); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the gpu job", func() bool { return poolInstances(h, "gpu") == 1 })
	return h
}

// A machine made without a size carries no size label, so its runner cannot
// have taken a job that asks for one: when it exits unseen it holds the
// unsized job, not the older sized one, and the sized job keeps the sized
// machine made for it. Holding the sized job would plan a second unsized
// machine for the job that most likely ran.
func TestSpentUnsizedRunnerHoldsNoSizedJob(t *testing.T) {
	sized := pool("linux", "linux")
	sized.Sizes = &core.SizeLimits{MaxCPU: 8, MaxMemoryGB: 32}
	h := spentCase(t, []core.Pool{sized}, []string{"self-hosted", "linux", "4cpu-16gb"}, []string{"self-hosted", "linux"},
		func(i core.Instance) bool { return i.Size == "" })
	if n := poolInstances(h, "linux"); n != 2 {
		t.Fatalf("%d linux machines, want 2: the unsized runner was taken to hold the sized job", n)
	}
}
