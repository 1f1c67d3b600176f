package controller_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

func TestIngestQueuedStoresNewJobsAndRetiresOnlyOnCompleteListings(t *testing.T) {
	h := newHarness(t, nil)
	// A poll entity: reconcile's safety-net poll leaves it to the poller, so
	// only this test's listings reach IngestQueued.
	ent := core.Entity{ForgeID: h.forge.ID, Kind: core.EntityRepository, Name: "o/polled", Intake: core.IntakePoll}
	if err := h.st.CreateEntity(h.ctx, &ent); err != nil {
		t.Fatal(err)
	}
	p := pool("linux", "linux")
	p.EntityID, p.Provider, p.Enabled = ent.ID, "mem", true
	if err := h.st.CreatePool(h.ctx, &p); err != nil {
		t.Fatal(err)
	}
	h.entity = ent
	job := func(id int64) core.Job {
		return core.Job{ID: id, RunID: id, Repository: "o/polled", Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}
	}
	added, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{job(1), job(2)}, true)
	if err != nil || added != 2 {
		t.Fatalf("added %d, %v", added, err)
	}
	h.eventually("a machine per job", func() bool { return len(h.live()) == 2 })
	if added, _ := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{job(1), job(2)}, true); added != 0 {
		t.Fatalf("listing the same jobs again added %d", added)
	}
	// A job reported by webhook moments ago is not retired by a listing that
	// does not show it yet.
	if _, err := h.ctl.HandleJobEvent(h.ctx, h.forge.ID, forge.JobEvent{Action: "queued", Job: job(3),
		Entity: forge.EntityRef{Repository: "o/polled"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	state := func(id int64) core.JobState {
		j, err := h.st.GetJob(h.ctx, h.entity.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return j.State
	}
	// An incomplete listing (cut short by the call budget) retires nothing.
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, nil, false); err != nil {
		t.Fatal(err)
	}
	if state(1) != core.JobQueued || state(2) != core.JobQueued {
		t.Fatal("an incomplete listing retired jobs")
	}
	// Job 2 was listed before and is gone now: it started or was cancelled.
	if _, err := h.ctl.IngestQueued(h.ctx, h.entity, []core.Job{job(1)}, true); err != nil {
		t.Fatal(err)
	}
	if state(2) != core.JobCompleted || state(1) != core.JobQueued || state(3) != core.JobQueued {
		t.Fatalf("states after a complete listing: 1=%s 2=%s 3=%s", state(1), state(2), state(3))
	}
}
