package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
)

// sharedWarm makes the harness pool shared with o/other, keeping one warm
// machine, and returns o/other's entity.
func sharedWarm(h *harness, name string) core.Entity {
	h.t.Helper()
	other := core.Entity{ForgeID: h.forge.ID, Kind: core.EntityRepository, Name: "o/other", Intake: core.IntakeWebhook}
	if err := h.st.CreateEntity(h.ctx, &other); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.st.ModifyPool(h.ctx, name, func(p *core.Pool) error {
		p.Entities, p.MinIdle = []string{other.ID}, 1
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	h.ctl.Notify()
	return other
}

// waitingMachine waits for the pool's warm machine, booted and unbound, and
// returns it with its token (it has reported installing, as bootstrap does).
func waitingMachine(h *harness) (core.Instance, string) {
	h.t.Helper()
	h.eventually("a warm machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	if !inst.Unbound || inst.EntityID != "" {
		h.t.Fatalf("warm machine of a shared pool: unbound %v, entity %q; want unbound, no entity", inst.Unbound, inst.EntityID)
	}
	spec, _ := h.prov.spec(inst.Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
		h.t.Fatal(err)
	}
	return inst, spec.Token
}

type fetched struct {
	cfg machineapi.RunnerConfig
	err error
}

func fetch(h *harness, token string) <-chan fetched {
	out := make(chan fetched, 1)
	go func() {
		cfg, err := h.ctl.RunnerConfigFor(h.ctx, token)
		out <- fetched{cfg, err}
	}()
	return out
}

func runnerScope(h *harness, name string) string {
	for _, r := range h.sim.Runners() {
		if r.Name == name {
			return r.Scope
		}
	}
	return ""
}

// A shared pool's warm machine waits unbound; a job of another entity is
// handed to it: the binding is recorded, its waiting config request gets a
// config minted at the job's entity with one JIT call, and no machine is
// created for the job (only the warm pool's replacement).
func TestWarmMachineLateBindsToAnotherEntitysJob(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("shared", "linux")})
	other := sharedWarm(h, "shared")
	inst, token := waitingMachine(h)
	res := fetch(h, token)
	before := h.sim.Stats()
	h.otherEvent(41, []string{"linux"})
	var got fetched
	select {
	case got = <-res:
	case <-time.After(10 * time.Second):
		t.Fatal("waiting machine not handed a config within 10s of the job")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	after := h.sim.Stats()
	if n := after.JITConfigsMinted - before.JITConfigsMinted; n != 1 {
		t.Fatalf("%d JIT configs minted for one assignment, want 1", n)
	}
	if got.cfg.Name != inst.Name || got.cfg.JITConfig == "" {
		t.Fatalf("config %+v, want a JIT config for %s", got.cfg, inst.Name)
	}
	if s := runnerScope(h, inst.Name); s != "repo:o/other" {
		t.Fatalf("runner registered at %q, want repo:o/other", s)
	}
	bound, err := h.st.GetInstance(h.ctx, inst.Name)
	if err != nil {
		t.Fatal(err)
	}
	if bound.EntityID != other.ID || bound.BoundJobID != 41 || bound.BoundAt.IsZero() {
		t.Fatalf("bound instance: entity %q job %d at %v; want %s, 41, set", bound.EntityID, bound.BoundJobID, bound.BoundAt, other.ID)
	}
	// The warm pool is refilled by one new unbound machine; the job got none.
	h.eventually("the replacement warm machine", func() bool { return len(h.live()) == 2 })
	for _, i := range h.live() {
		if i.Name != inst.Name && (!i.Unbound || i.EntityID != "") {
			t.Fatalf("machine %s made for the job (entity %q), want only an unbound replacement", i.Name, i.EntityID)
		}
	}
	// One machine, one job: the token is spent.
	if _, err := h.ctl.RunnerConfigFor(h.ctx, token); !errors.Is(err, machineapi.ErrTokenUsed) {
		t.Fatalf("second fetch: %v, want ErrTokenUsed", err)
	}
}

// A long-poll with no job ends with ErrNotBound and spends nothing: the
// machine asks again and is bound later.
func TestWaitingMachineAsksAgain(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("shared", "linux")}, func(o *controller.Options) { o.BindWait = 20 * time.Millisecond })
	sharedWarm(h, "shared")
	inst, token := waitingMachine(h)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, token); !errors.Is(err, machineapi.ErrNotBound) {
		t.Fatalf("fetch with no job: %v, want ErrNotBound", err)
	}
	h.otherEvent(42, []string{"linux"})
	h.eventually("the binding", func() bool {
		i, err := h.st.GetInstance(h.ctx, inst.Name)
		return err == nil && i.BoundJobID == 42
	})
	if _, err := h.ctl.RunnerConfigFor(h.ctx, token); err != nil {
		t.Fatalf("fetch once bound: %v", err)
	}
	if s := runnerScope(h, inst.Name); s != "repo:o/other" {
		t.Fatalf("runner registered at %q, want repo:o/other", s)
	}
}

// A restart between the recorded binding and the mint completes the
// binding: the machine's next request mints at the bound entity, and the
// machine is never bound to the next job, which goes to another machine.
func TestLateBindingSurvivesRestart(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("shared", "linux")})
	other := sharedWarm(h, "shared")
	inst, token := waitingMachine(h)
	h.otherEvent(43, []string{"linux"})
	h.eventually("the binding", func() bool {
		i, err := h.st.GetInstance(h.ctx, inst.Name)
		return err == nil && i.BoundJobID == 43
	})
	h.halt() // the manager dies before the machine asked
	h.start()
	h.otherEvent(44, []string{"linux"})
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	before := h.sim.Stats().JITConfigsMinted
	if _, err := h.ctl.RunnerConfigFor(ctx, token); err != nil {
		t.Fatalf("fetch after restart: %v", err)
	}
	if n := h.sim.Stats().JITConfigsMinted - before; n != 1 {
		t.Fatalf("%d mints after restart, want 1", n)
	}
	if s := runnerScope(h, inst.Name); s != "repo:o/other" {
		t.Fatalf("runner registered at %q, want repo:o/other", s)
	}
	h.eventually("job 44 served by another machine", func() bool {
		for _, i := range h.live() {
			if i.Name != inst.Name && i.EntityID == other.ID {
				return true
			}
		}
		return false
	})
	i, err := h.st.GetInstance(h.ctx, inst.Name)
	if err != nil {
		t.Fatal(err)
	}
	if i.BoundJobID != 43 || i.EntityID != other.ID {
		t.Fatalf("machine rebound: job %d entity %q, want 43 at %s", i.BoundJobID, i.EntityID, other.ID)
	}
}

// A shared Windows pool's warm machines wait unbound like Linux ones: the
// PowerShell install script asks again on 204 (internal/winboot).
func TestWindowsWarmMachinesAreLateBound(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("shared", "linux")})
	if _, err := h.st.ModifyPool(h.ctx, "shared", func(p *core.Pool) error { p.OSType = "windows"; return nil }); err != nil {
		t.Fatal(err)
	}
	sharedWarm(h, "shared")
	h.eventually("a warm machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	if inst := h.instances(core.InstanceRunning)[0]; !inst.Unbound {
		t.Fatalf("windows warm machine %s bound at boot", inst.Name)
	}
}
