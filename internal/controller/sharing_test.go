package controller_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// otherEvent queues a job of repository o/other on the harness forge.
func (h *harness) otherEvent(id int64, labels []string) {
	h.t.Helper()
	j := core.Job{ID: id, RunID: id, Repository: "o/other", Labels: labels, State: core.JobQueued, QueuedAt: time.Now()}
	if _, err := h.ctl.HandleJobEvent(h.ctx, h.forge.ID, forge.JobEvent{Action: core.JobActionQueued, Job: j,
		Entity: forge.EntityRef{Repository: "o/other"}}, time.Now()); err != nil {
		h.t.Fatal(err)
	}
}

// A shared pool's machine made for another entity's job registers its runner
// with that entity, not the pool's own.
func TestSharedPoolRegistersWithTheJobsEntity(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("shared", "linux")})
	other := core.Entity{ForgeID: h.forge.ID, Kind: core.EntityRepository, Name: "o/other", Intake: core.IntakeWebhook}
	if err := h.st.CreateEntity(h.ctx, &other); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.ModifyPool(h.ctx, "shared", func(p *core.Pool) error { p.Entities = []string{other.ID}; return nil }); err != nil {
		t.Fatal(err)
	}
	h.otherEvent(41, []string{"linux"})
	h.eventually("a machine for o/other's job", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	inst := h.instances(core.InstanceRunning)[0]
	if inst.EntityID != other.ID {
		t.Fatalf("instance bound to %q, want o/other (%s)", inst.EntityID, other.ID)
	}
	spec, _ := h.prov.spec(inst.Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatal(err)
	}
	var scope string
	for _, r := range h.sim.Runners() {
		if r.Name == inst.Name {
			scope = r.Scope
		}
	}
	if scope != "repo:o/other" {
		t.Fatalf("runner registered at %q, want repo:o/other", scope)
	}
}

// A job over its tenant's quota waits with a note; raising the quota (a
// store change plus Notify, as the API does) releases it.
func TestTenantQuotaHoldsAndReleases(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	tn := core.Tenant{Name: "libfoo", Weight: 1, MaxMachines: 1, Entities: []string{h.entity.ID}}
	if err := h.st.CreateTenant(h.ctx, &tn); err != nil {
		t.Fatal(err)
	}
	h.event("queued", 1, []string{"linux"}, "")
	h.eventually("one machine", func() bool { return len(h.live()) == 1 })
	h.event("queued", 2, []string{"linux"}, "")
	h.eventually("the quota note", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 2)
		return err == nil && j.Note == `tenant "libfoo" at quota (max_machines 1)`
	})
	if n := len(h.live()); n != 1 {
		t.Fatalf("%d machines over a quota of 1", n)
	}
	tn.MaxMachines = 2
	if err := h.st.UpdateTenant(h.ctx, &tn); err != nil {
		t.Fatal(err)
	}
	h.ctl.Notify()
	h.eventually("the second machine", func() bool { return len(h.live()) == 2 })
	h.eventually("the note cleared", func() bool {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, 2)
		return err == nil && !strings.Contains(j.Note, "quota")
	})
}
