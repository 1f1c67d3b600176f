package controller_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// bootedMachine queues a job and walks its machine through install to idle,
// as a real machine's callbacks would.
func bootedMachine(t *testing.T, h *harness, jobID int64) (core.Instance, string) {
	t.Helper()
	h.event("queued", jobID, []string{"linux"}, "")
	h.eventually("running", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		t.Fatal(err)
	}
	return inst, spec.Token
}

// A machine whose runner exited retires its own instance at once, without
// waiting for the forge (Forgejo's job list does not name the runner, so a
// poller cannot tell which machine finished) — but the job is not marked
// completed on the machine's word.
func TestMachineDoneRetiresItsInstanceButNotTheJob(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	// As on Forgejo, the forge has not said which runner took the job.
	inst, token := bootedMachine(t, h, 40)
	if err := h.ctl.Report(h.ctx, token, core.RunnerDone, "exit status 0"); err != nil {
		t.Fatal(err)
	}
	h.eventually("instance deleted", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceDeleted && i.DeleteReason == core.DeleteRunnerExited
	})
	if _, ok := h.prov.spec(inst.Name); ok {
		t.Fatal("machine still exists at the provider")
	}
	if j, err := h.st.GetJob(h.ctx, h.entity.ID, 40); err != nil || j.State != core.JobQueued {
		t.Fatalf("job = %+v, %v: a machine's word must not complete it", j, err)
	}
	// The token is dead after done: no second report, no other status.
	if err := h.ctl.Report(h.ctx, token, core.RunnerIdle, ""); !errors.Is(err, machineapi.ErrBadToken) {
		t.Fatalf("idle after done: %v, want ErrBadToken", err)
	}
	// The forge's word still lands on the job.
	h.event("completed", 40, []string{"linux"}, inst.Name)
	if j, _ := h.st.GetJob(h.ctx, h.entity.ID, 40); j.State != core.JobCompleted {
		t.Fatalf("job after the forge's completed event = %s", j.State)
	}
}

// A runner that exits with an error is retired too, with the exit status
// kept as the instance's fault; a done report after the forge's completed
// event is accepted and changes nothing.
func TestMachineDoneAfterFailureOrCompletion(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	inst, token := bootedMachine(t, h, 41)
	if err := h.ctl.Report(h.ctx, token, core.RunnerDone, "exit status 2"); err != nil {
		t.Fatal(err)
	}
	h.eventually("instance retired with its fault", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceDeleted && i.Fault == "runner exited: exit status 2"
	})

	h2 := newHarness(t, []core.Pool{pool("linux", "linux")})
	inst2, token2 := bootedMachine(t, h2, 42)
	h2.event("completed", 42, []string{"linux"}, inst2.Name)
	if err := h2.ctl.Report(h2.ctx, token2, core.RunnerDone, "exit status 0"); err != nil {
		t.Fatalf("done after completed: %v", err)
	}
	h2.eventually("instance deleted", func() bool {
		i, _ := h2.st.GetInstance(h2.ctx, inst2.Name)
		return i.State == core.InstanceDeleted
	})
	if i, _ := h2.st.GetInstance(h2.ctx, inst2.Name); i.DeleteReason == core.DeleteRunnerExited || i.Fault != "" {
		t.Fatalf("done after completed changed the instance: reason %q, fault %q", i.DeleteReason, i.Fault)
	}
	// The runner of a machine being destroyed exits too: its report must not
	// pull the instance back to pending_delete.
	h3 := newHarness(t, []core.Pool{pool("linux", "linux")})
	inst3, token3 := bootedMachine(t, h3, 43)
	for _, st := range []core.InstanceState{core.InstancePendingDelete, core.InstanceDeleting} {
		if _, err := h3.st.UpdateInstance(h3.ctx, inst3.Name, func(i *core.Instance) error {
			// Not before an hour: the controller leaves it where the test put it.
			i.State, i.DeleteReason, i.NextAttemptAt = st, "scale_down", time.Now().Add(time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h3.ctl.Report(h3.ctx, token3, core.RunnerDone, "signal: killed"); err != nil {
		t.Fatalf("done while deleting: %v", err)
	}
	if i, _ := h3.st.GetInstance(h3.ctx, inst3.Name); i.State == core.InstancePendingDelete || i.DeleteReason != "scale_down" {
		t.Fatalf("instance being deleted became %s (%s)", i.State, i.DeleteReason)
	}
	if err := h2.ctl.Report(h2.ctx, "forged", core.RunnerDone, ""); !errors.Is(err, machineapi.ErrBadToken) {
		t.Fatalf("forged token: %v", err)
	}
}
