package controller_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
)

func TestRestartCarriesOutRecordedIntentWithoutDuplicates(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.halt()
	pools, _ := h.st.ListPools(h.ctx)
	// As if the manager died mid-create: the store says creating and the
	// provider already made the machine (its answer was lost).
	inst := core.Instance{Name: "t-crashed", PoolID: pools[0].ID, State: core.InstancePendingCreate, Runner: core.RunnerPending}
	if err := h.st.CreateInstance(h.ctx, &inst); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.UpdateInstance(h.ctx, inst.Name, func(i *core.Instance) error { i.State = core.InstanceCreating; return nil }); err != nil {
		t.Fatal(err)
	}
	h.prov.machines["t-crashed"] = provider.Spec{Name: "t-crashed"}
	// And a machine nobody recorded at all (leaked by some earlier crash).
	h.prov.machines["t-leaked"] = provider.Spec{Name: "t-leaked"}
	// And a delete that was interrupted.
	gone := core.Instance{Name: "t-deleting", PoolID: pools[0].ID, State: core.InstancePendingCreate, Runner: core.RunnerPending}
	_ = h.st.CreateInstance(h.ctx, &gone)
	_, _ = h.st.UpdateInstance(h.ctx, gone.Name, func(i *core.Instance) error { i.State = core.InstancePendingDelete; return nil })
	_, _ = h.st.UpdateInstance(h.ctx, gone.Name, func(i *core.Instance) error { i.State = core.InstanceDeleting; return nil })
	h.prov.machines["t-deleting"] = provider.Spec{Name: "t-deleting"}

	h.start()
	h.eventually("interrupted create finished", func() bool {
		i, _ := h.st.GetInstance(h.ctx, "t-crashed")
		return i.State == core.InstanceRunning
	})
	h.eventually("interrupted delete finished", func() bool {
		i, _ := h.st.GetInstance(h.ctx, "t-deleting")
		return i.State == core.InstanceDeleted
	})
	h.eventually("leaked machine removed", func() bool { _, ok := h.prov.spec("t-leaked"); return !ok })
	h.prov.mu.Lock()
	defer h.prov.mu.Unlock()
	if len(h.prov.machines) != 1 {
		t.Fatalf("machines at provider = %v, want only t-crashed", h.prov.machines)
	}
}

func TestBootstrapTimeoutReplacesSilentMachine(t *testing.T) {
	p := pool("linux", "linux")
	p.BootstrapTimeout = 300 * time.Millisecond
	h := newHarness(t, []core.Pool{p})
	h.event("queued", 10, []string{"linux"}, "")
	h.eventually("first machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	first := h.instances(core.InstanceRunning)[0].Name
	h.eventually("silent machine destroyed and replaced", func() bool {
		i, _ := h.st.GetInstance(h.ctx, first)
		if i.State != core.InstanceDeleted || i.DeleteReason != "bootstrap_timeout" {
			return false
		}
		for _, r := range h.live() {
			if r.Name != first {
				return true
			}
		}
		return false
	})
}

func TestMaxJobRuntimeDestroysMachine(t *testing.T) {
	p := pool("linux", "linux")
	p.MaxJobRuntime = 300 * time.Millisecond
	h := newHarness(t, []core.Pool{p})
	h.event("queued", 11, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	name := h.instances(core.InstanceRunning)[0].Name
	h.event("in_progress", 11, []string{"linux"}, name)
	h.eventually("destroyed after max runtime", func() bool {
		i, _ := h.st.GetInstance(h.ctx, name)
		return i.State == core.InstanceDeleted && i.DeleteReason == "max_job_runtime"
	})
}

// A runner that picked up a job just before scale-down (its in_progress
// webhook not yet received) must survive: the forge refuses to remove it and
// Paddock keeps the machine.
func TestScaleDownNeverKillsBusyRunner(t *testing.T) {
	p := pool("linux", "linux")
	p.MinIdle = 1
	h := newHarness(t, []core.Pool{p})
	h.eventually("warm machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go agent.Run(actx, cfg.JITConfig, io.Discard) //nolint:errcheck
	// The job reaches the runner at the forge; Paddock hears nothing of it.
	if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	h.eventually("runner busy at the forge", func() bool {
		for _, r := range h.sim.Runners() {
			if r.Name == inst.Name && r.Busy {
				return true
			}
		}
		return false
	})
	// Disable the pool: its idle machine is now surplus.
	pools, _ := h.st.ListPools(h.ctx)
	pools[0].Enabled = false
	if err := h.st.UpdatePool(h.ctx, &pools[0]); err != nil {
		t.Fatal(err)
	}
	h.ctl.Notify()
	h.eventually("delete cancelled, runner marked active", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceRunning && i.Runner == core.RunnerActive
	})
	if _, ok := h.prov.spec(inst.Name); !ok {
		t.Fatal("busy runner's machine was destroyed")
	}
}
