package gitea_test

import (
	"context"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// In poll mode the poller learns a job's start and end only from listings:
// Gitea's must report running jobs with their runner, or a finished job's
// machine waits for the next reconcile (58 s instead of about 1 s).
func TestPollListingReportsRunningJobsWithRunner(t *testing.T) {
	ctx := context.Background()
	sim := startSim(t, forgesim.FlavorGitea, "1.25.4")
	c := newClient(t, sim, core.ForgeGitea)
	_, rf := register(t, c, "poll-1")
	running, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}, Duration: time.Hour})
	fetchTask(t, rf)
	waiting, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"gpu"}})

	lst, err := c.ListQueuedJobsIf(ctx, repo, forge.QueuedQuery{})
	if err != nil || !lst.Complete || lst.Calls != 2 {
		t.Fatalf("listing %+v, %v; want complete in 2 calls", lst, err)
	}
	if len(lst.Jobs) != 1 || lst.Jobs[0].ID != waiting.ID {
		t.Fatalf("queued = %+v; want job %d", lst.Jobs, waiting.ID)
	}
	if len(lst.InProgress) != 1 || lst.InProgress[0].ID != running.ID || lst.InProgress[0].RunnerName != "poll-1" {
		t.Fatalf("in progress = %+v; want job %d on runner poll-1", lst.InProgress, running.ID)
	}
	// A bound of one call leaves the listing incomplete rather than overspent.
	lst, err = c.ListQueuedJobsIf(ctx, repo, forge.QueuedQuery{MaxCalls: 1})
	if err != nil || lst.Complete || lst.Calls != 1 {
		t.Fatalf("bounded listing %+v, %v; want 1 call, incomplete", lst, err)
	}
}
