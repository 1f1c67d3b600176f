package controller_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

func TestQueuedJobCreatesMachineAtOnce(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux", "x64")})
	h.event("queued", 1, []string{"self-hosted", "Linux"}, "")
	h.eventually("a running instance", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, ok := h.prov.spec(inst.Name)
	if !ok || spec.Token == "" || spec.MetadataURL != "http://meta" {
		t.Fatalf("provider spec = %+v", spec)
	}
	// The pool choice is recorded after the machine is on its way.
	h.eventually("job bound to the pool", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 1)
		return err == nil && j.PoolID == inst.PoolID && j.Note == ""
	})
}

func TestJobWithUnknownLabelsStaysQueuedWithReason(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.event("queued", 2, []string{"gpu"}, "")
	h.eventually("a note on the job", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 2)
		return err == nil && strings.Contains(j.Note, "gpu")
	})
	j, _ := h.st.GetJob(h.ctx, h.entity.ID, 2)
	if j.State != core.JobQueued || j.PoolID != "" {
		t.Fatalf("job = %+v", j)
	}
	if c, _ := h.prov.counts(); c != 0 {
		t.Fatalf("%d creates for a job no pool serves", c)
	}
}

func TestFullLifecycleDestroysMachineAfterOneJob(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	h.event("queued", 3, []string{"linux"}, "")
	h.eventually("running", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	spec, _ := h.prov.spec(inst.Name)

	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JITConfig == "" || cfg.Tool.SHA256 == "" || cfg.Name != inst.Name {
		t.Fatalf("runner config = %+v", cfg)
	}
	// The token works once for the runner config …
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); !errors.Is(err, machineapi.ErrTokenUsed) {
		t.Fatalf("second fetch: %v, want machineapi.ErrTokenUsed", err)
	}
	if got, err := h.ctl.InstanceForToken(h.ctx, spec.Token); err != nil || got.Name != inst.Name {
		t.Fatalf("InstanceForToken while installing = %v, %v", got.Name, err)
	}
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ctl.InstanceForToken(h.ctx, spec.Token); !errors.Is(err, machineapi.ErrBadToken) {
		t.Fatalf("InstanceForToken after idle: %v", err)
	}
	// … and is dead once the runner is idle.
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerIdle, ""); !errors.Is(err, machineapi.ErrBadToken) {
		t.Fatalf("report after idle: %v, want machineapi.ErrBadToken", err)
	}
	if _, err := h.ctl.RunnerConfigFor(h.ctx, "forged-token"); !errors.Is(err, machineapi.ErrBadToken) {
		t.Fatalf("forged token: %v", err)
	}
	h.event("in_progress", 3, []string{"linux"}, inst.Name)
	h.eventually("runner active", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.Runner == core.RunnerActive && i.JobID == 3
	})
	h.event("completed", 3, []string{"linux"}, inst.Name)
	h.eventually("instance deleted", func() bool {
		i, _ := h.st.GetInstance(h.ctx, inst.Name)
		return i.State == core.InstanceDeleted
	})
	if _, ok := h.prov.spec(inst.Name); ok {
		t.Fatal("machine still exists at the provider")
	}
	if c, _ := h.prov.counts(); c != 1 {
		t.Fatalf("%d creates, want 1 (nothing else was queued)", c)
	}
}

func TestFailedCreateIsCleanedUpAndRetriedWithBackoff(t *testing.T) {
	var first string
	// One slot, which the failed machine holds: the pool can only serve the
	// job by retrying it (with room, it would create another machine and
	// remove the failed one instead).
	p := pool("linux", "linux")
	p.MaxRunners = 1
	h := newHarness(t, []core.Pool{p})
	h.prov.failCreate = func(name string, attempt int) error {
		if first == "" {
			first = name
		}
		if name == first && attempt <= 2 {
			return errBoom
		}
		return nil
	}
	h.event("queued", 4, []string{"linux"}, "")
	h.eventually("first instance recovers after two failures", func() bool {
		name := h.prov.locked(func() string { return first })
		i, err := h.st.GetInstance(h.ctx, name)
		return name != "" && err == nil && i.State == core.InstanceRunning && i.Attempts == 2
	})
	h.prov.mu.Lock()
	defer h.prov.mu.Unlock()
	if h.prov.attempts[first] != 3 {
		t.Fatalf("create attempts for %s = %d, want 3", first, h.prov.attempts[first])
	}
	cleaned := 0
	for _, d := range h.prov.deletes {
		if d == first {
			cleaned++
		}
	}
	if cleaned != 2 {
		t.Fatalf("half-made machine cleaned %d times, want 2 (after each failure)", cleaned)
	}
}

func TestFailedInstanceDoesNotCountTowardMinIdle(t *testing.T) {
	p := pool("linux", "linux")
	p.MinIdle = 1
	var first string
	h := newHarness(t, []core.Pool{p}, func(o *controller.Options) { o.MaxCreateAttempts = 100 })
	h.prov.failCreate = func(name string, _ int) error {
		if first == "" || name == first {
			first = name
			return errBoom
		}
		return nil
	}
	h.eventually("a healthy replacement while the first is failing", func() bool {
		name := h.prov.locked(func() string { return first })
		for _, i := range h.instances(core.InstanceRunning) {
			if i.Name != name {
				return true
			}
		}
		return false
	})
}

func TestRetriesExhaustedInstanceIsDeleted(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) { o.MaxCreateAttempts = 2 })
	var first string
	h.prov.failCreate = func(name string, _ int) error {
		if first == "" {
			first = name
		}
		if name == first {
			return errBoom
		}
		return nil
	}
	h.event("queued", 5, []string{"linux"}, "")
	h.eventually("first instance given up", func() bool {
		i, err := h.st.GetInstance(h.ctx, h.prov.locked(func() string { return first }))
		return err == nil && i.State == core.InstanceDeleted && strings.Contains(i.Fault, "boom")
	})
	h.eventually("job served by a replacement", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
}
