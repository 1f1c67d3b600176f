package controller_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// claimActive boots one running machine's runner and has it say, as its
// job-started hook does, that it took a job of run.
func claimActive(h *harness, inst core.Instance, run int64) {
	h.t.Helper()
	spec, _ := h.prov.spec(inst.Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		h.t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		h.t.Fatal(err)
	}
	ran := &machineapi.RanJob{RunID: run, RunAttempt: 1, Repository: "o/r"}
	if err := h.ctl.ReportRan(h.ctx, spec.Token, core.RunnerActive, "", ran); err != nil {
		h.t.Fatal(err)
	}
	// A retry of a report that went through is fine; another run is not.
	if err := h.ctl.ReportRan(h.ctx, spec.Token, core.RunnerActive, "", ran); err != nil {
		h.t.Fatalf("repeated active report: %v", err)
	}
	other := &machineapi.RanJob{RunID: run + 1}
	if err := h.ctl.ReportRan(h.ctx, spec.Token, core.RunnerActive, "", other); err == nil {
		h.t.Fatal("a second, different active report was accepted")
	}
}

// Between two listings of a polled entity, a runner that says it took a job
// is busy, and the job it names is held back: the machine made for the
// other job still serves it, so no third machine is made. (Without the
// report the busy runner would still count as idle capacity; with the report
// but no hold, both jobs would look unserved.) A listing that began after
// the report, still showing both jobs queued, proves the machine wrong, and
// the job then gets a machine.
func TestPolledRunnerSayingItTookAJobHoldsThatJob(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux"), pool("gpu", "gpu")})
	a, b := simJob(h, "linux"), simJob(h, "linux")
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("two linux machines", func() bool { return len(h.instances(core.InstanceRunning)) == 2 })
	first := h.instances(core.InstanceRunning)[0]
	claimActive(h, first, b.RunID)
	got, err := h.st.GetInstance(h.ctx, first.Name)
	if err != nil || got.Runner != core.RunnerActive || got.Ran == nil || got.Ran.RunID != b.RunID {
		t.Fatalf("after the active report: %+v, %v", got, err)
	}
	// A gpu job forces a decision after the report.
	g := simJob(h, "gpu")
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b, g}, false); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine for the gpu job", func() bool { return poolInstances(h, "gpu") == 1 })
	if n := poolInstances(h, "linux"); n != 2 {
		t.Fatalf("%d linux machines, want 2: the job the busy runner named was planned for again", n)
	}
	// The next listing still shows both linux jobs queued: the claim was wrong.
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b, g}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("the held job gets a machine after all", func() bool { return poolInstances(h, "linux") == 3 })
}

// When the forge then names the job (a listing shows it in progress on that
// runner), the machine's instance records it like any other.
func TestForgeNamesTheJobOfARunnerThatSaidItWasBusy(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	a := simJob(h, "linux")
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("a machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	claimActive(h, inst, a.RunID)
	a.EntityID, a.State, a.RunnerName = h.entity.ID, core.JobInProgress, inst.Name
	ev := forge.JobEvent{Action: core.JobActionInProgress, Job: a, Entity: forge.EntityRef{Repository: "o/r"}}
	if _, err := h.ctl.HandleJobEvent(h.ctx, h.forge.ID, ev, time.Now()); err != nil {
		t.Fatal(err)
	}
	h.eventually("the instance names its job", func() bool {
		got, err := h.st.GetInstance(h.ctx, inst.Name)
		return err == nil && got.JobID == a.ID && got.Runner == core.RunnerActive
	})
}

// ClaimedRun names the one live machine that said it took a job of the run,
// and nobody once that machine has said its runner exited, or when two
// machines said so (the poller then lists the run's jobs). It answers from
// the last decision, which each report triggers.
func TestClaimedRunNamesTheOneBusyMachine(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	a, b := simJob(h, "linux"), simJob(h, "linux")
	h.ctl.Listed(h.entity.ID, time.Now())
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{a, b}, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("two machines", func() bool { return len(h.instances(core.InstanceRunning)) == 2 })
	running := h.instances(core.InstanceRunning)
	named := func(want string) func() bool {
		return func() bool {
			got, ok := h.ctl.ClaimedRun(h.ctx, h.entity.ID, a.RunID)
			return ok == (want != "") && got == want
		}
	}
	claimActive(h, running[0], a.RunID)
	h.eventually("the busy machine is named", named(running[0].Name))
	if _, ok := h.ctl.ClaimedRun(h.ctx, "another-entity", a.RunID); ok {
		t.Fatal("a claim answered for another entity")
	}
	claimActive(h, running[1], a.RunID) // a lie, or a run of two jobs: either way not one machine
	h.eventually("nobody named while two claim the run", named(""))
	spec, _ := h.prov.spec(running[1].Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerDone, "exit status 0"); err != nil {
		t.Fatal(err)
	}
	h.eventually("the one still busy is named", named(running[0].Name))
	spec, _ = h.prov.spec(running[0].Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerDone, "exit status 0"); err != nil {
		t.Fatal(err)
	}
	// Read back at once: a machine whose runner exited is never named, even
	// before the next decision.
	if got, ok := h.ctl.ClaimedRun(h.ctx, h.entity.ID, a.RunID); ok {
		t.Fatalf("a machine whose runner exited is still named: %s", got)
	}
}
