package gitea_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// Cancelling a running job in Gitea sends no workflow_job webhook and
// deletes the ephemeral runner that held it; the sim must do the same so
// reconcile's handling of a vanished runner is exercised.
func TestSimCancelDeletesRunnerWithoutWebhook(t *testing.T) {
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea, LongPoll: 300 * time.Millisecond,
		WebhookURL: "http://127.0.0.1:1/unused", WebhookSecret: "s"})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c := newClient(t, sim, core.ForgeGitea)
	_, rf := register(t, c, "cancel-1")
	j, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour})
	if b := fetchTask(t, rf); !strings.Contains(string(b), `"task"`) {
		t.Fatalf("no task: %s", b)
	}
	hooks := len(sim.Deliveries())
	if err := sim.CancelJob(j.ID); err != nil {
		t.Fatal(err)
	}
	if rs := sim.Runners(); len(rs) != 0 {
		t.Fatalf("runners after cancel = %+v; want the ephemeral runner deleted", rs)
	}
	for _, d := range sim.Deliveries()[hooks:] {
		t.Errorf("cancel sent a webhook: %+v", d)
	}
	if js := sim.Jobs(); js[0].Status != forgesim.StatusCompleted || js[0].Conclusion != forgesim.ConclusionCancelled {
		t.Fatalf("job after cancel = %+v", js[0])
	}
	if rs, err := c.ListRunners(context.Background(), repo); err != nil || len(rs) != 0 {
		t.Fatalf("ListRunners after cancel = %+v, %v", rs, err)
	}
}

// The queued-job listing carries Gitea's 1970 "not started" times; the
// client reports them as unknown.
func TestQueuedListingHasNoEpochTimes(t *testing.T) {
	sim := startSim(t, forgesim.FlavorGitea, "1.25.4")
	c := newClient(t, sim, core.ForgeGitea)
	_, _ = sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	jobs, err := c.ListQueuedJobs(context.Background(), repo)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%+v, %v", jobs, err)
	}
	if j := jobs[0]; j.QueuedAt.IsZero() || !j.StartedAt.IsZero() || j.QueuedAt.Year() < 2000 {
		t.Fatalf("job times queued %v started %v", j.QueuedAt, j.StartedAt)
	}
}
