package controller_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// With a repository and its organization both managed on Gitea, a job goes
// to the entity whose pool Gitea would offer it to: Gitea compares labels
// case-sensitively, so the repository's "Linux" pool must not draw a
// runs-on: linux job away from the organization's "linux" pool.
func TestEventEntityIsChosenWithTheForgesLabelRules(t *testing.T) {
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	h := newHarnessOn(t, sim, []core.Pool{pool("repo-pool", "Linux")})
	org := core.Entity{ForgeID: h.forge.ID, Kind: core.EntityOrganization, Name: "o", Intake: core.IntakeWebhook}
	if err := h.st.CreateEntity(h.ctx, &org); err != nil {
		t.Fatal(err)
	}
	p := pool("org-pool", "linux")
	p.EntityID, p.Provider, p.Enabled = org.ID, "mem", true
	if err := h.st.CreatePool(h.ctx, &p); err != nil {
		t.Fatal(err)
	}
	ev := forge.JobEvent{Action: "queued", Entity: forge.EntityRef{Repository: "o/r", Organization: "o"},
		Job: core.Job{ID: 7, Repository: "o/r", Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}}
	if _, err := h.ctl.HandleJobEvent(h.ctx, h.forge.ID, ev, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.GetJob(h.ctx, org.ID, 7); err != nil {
		j, _ := h.st.GetJob(h.ctx, h.entity.ID, 7)
		t.Fatalf("job not stored under the organization (%v); under the repository: %+v", err, j)
	}
}
