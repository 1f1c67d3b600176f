package github_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

const runsRoute = "GET /repos/{owner}/{repo}/actions/runs"

func simClient(t *testing.T) (*forgesim.Sim, *github.Client) {
	t.Helper()
	sim := forgesim.New(forgesim.Options{})
	if err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c, err := github.New(core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "poll-token"}}, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func queue(t *testing.T, sim *forgesim.Sim, repo string) forgesim.Job {
	t.Helper()
	j, err := sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"}})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestConditionalListingAnswers304WithoutSpendingBudget(t *testing.T) {
	sim, c := simClient(t)
	ctx := context.Background()
	ent := core.Entity{Kind: core.EntityRepository, Name: "octo/hello"}
	j1 := queue(t, sim, "octo/hello")

	first, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// Two run listings and the one run's jobs.
	if first.NotModified || !first.Complete || first.Calls != 3 || first.NotModifiedCalls != 0 ||
		len(first.Jobs) != 1 || first.Jobs[0].ID != j1.ID {
		t.Fatalf("first listing = %+v", first)
	}
	if first.ETags["queued"] == "" || first.ETags["in_progress"] == "" {
		t.Fatalf("no ETags kept: %v", first.ETags)
	}
	// The simulator counts a call after answering it: wait for the first
	// listing's two run listings to be counted before taking the baseline.
	testutil.Eventually(t, "first listing counted", 5*time.Second, func() bool {
		return sim.Stats().APICalls[runsRoute][http.StatusOK] >= 2
	})
	before := sim.Stats().APICalls[runsRoute][http.StatusOK]

	second, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{ETags: first.ETags})
	if err != nil {
		t.Fatal(err)
	}
	if !second.NotModified || second.Calls != 0 || second.NotModifiedCalls != 2 || len(second.Jobs) != 0 {
		t.Fatalf("unchanged listing = %+v", second)
	}
	testutil.Eventually(t, "304s counted", 5*time.Second, func() bool {
		return sim.Stats().APICalls[runsRoute][http.StatusNotModified] >= 2
	})
	st := sim.Stats().APICalls[runsRoute]
	if st[http.StatusNotModified] != 2 || st[http.StatusOK] != before {
		t.Fatalf("sim counted %v for the runs listing", st)
	}

	// A 304 must not cost budget: the remaining count GitHub reports stays put.
	j2 := queue(t, sim, "octo/hello")
	third, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{ETags: first.ETags})
	if err != nil {
		t.Fatal(err)
	}
	// Charged: the changed queued listing and the new run's jobs. The
	// in-progress listing's 304 is answered from the client's copy of the
	// page its ETag stands for, and the first run's jobs are unchanged: both
	// free 304s.
	if third.NotModified || !third.Complete || len(third.Jobs) != 2 || third.Calls != 2 || third.NotModifiedCalls != 2 {
		t.Fatalf("changed listing = %+v", third)
	}
	ids := map[int64]bool{third.Jobs[0].ID: true, third.Jobs[1].ID: true}
	if !ids[j1.ID] || !ids[j2.ID] || third.ETags["queued"] == first.ETags["queued"] {
		t.Fatalf("changed listing jobs %v etags %v", ids, third.ETags)
	}
}

func TestConditionalListingStopsAtMaxCalls(t *testing.T) {
	sim, c := simClient(t)
	ent := core.Entity{Kind: core.EntityRepository, Name: "octo/many"}
	for range 5 {
		queue(t, sim, "octo/many")
	}
	got, err := c.ListQueuedJobsIf(context.Background(), ent, forge.QueuedQuery{MaxCalls: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got.Complete || got.Calls != 4 || len(got.Jobs) != 2 {
		t.Fatalf("bounded listing = %+v", got)
	}
	calls := func() int {
		return sim.Stats().Calls(runsRoute) + sim.Stats().Calls("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs")
	}
	// The simulator counts a call after answering it: wait for the count.
	testutil.Eventually(t, "calls counted", 5*time.Second, func() bool { return calls() >= 4 })
	if n := calls(); n != 4 {
		t.Fatalf("sim saw %d calls, want 4", n)
	}
}

func TestConditionalListingCountsRateLimitedCall(t *testing.T) {
	sim, c := simClient(t)
	sim.FailNext(runsRoute, http.StatusTooManyRequests, 1)
	got, err := c.ListQueuedJobsIf(context.Background(), core.Entity{Kind: core.EntityRepository, Name: "octo/x"}, forge.QueuedQuery{})
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("err = %v, want a rate limit with Retry-After", err)
	}
	if got.Calls != 1 || got.Complete {
		t.Fatalf("listing = %+v, want 1 counted call and incomplete", got)
	}
}

// A client that holds no copy of a listing whose ETag it is handed (a
// restarted manager) reads that listing again rather than trusting the 304.
func TestConditionalListingWithoutCopyRereadsUnchangedListing(t *testing.T) {
	sim, c := simClient(t)
	ctx := context.Background()
	ent := core.Entity{Kind: core.EntityRepository, Name: "octo/restart"}
	j1 := queue(t, sim, "octo/restart")
	first, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := github.New(core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "poll-token"}}, github.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j2 := queue(t, sim, "octo/restart")
	got, err := fresh.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{ETags: first.ETags})
	if err != nil {
		t.Fatal(err)
	}
	// The queued listing changed; the in-progress one answers 304 but is
	// read again in full, and both runs' jobs are read (no cached copies).
	if !got.Complete || got.NotModified || len(got.Jobs) != 2 || got.Calls != 4 || got.NotModifiedCalls != 1 {
		t.Fatalf("listing by a client without copies = %+v", got)
	}
	ids := map[int64]bool{got.Jobs[0].ID: true, got.Jobs[1].ID: true}
	if !ids[j1.ID] || !ids[j2.ID] {
		t.Fatalf("jobs %v, want %d and %d", ids, j1.ID, j2.ID)
	}
}

// A run whose one queued job a runner of Paddock's said it took (its
// job-started hook) is not listed again once it shows in progress: the job
// is reported running on that runner without a charged call. Without the
// claim, or with a claim the controller cannot pin to one runner, the run's
// jobs are listed as before.
func TestClaimedRunIsNotListedAgain(t *testing.T) {
	sim, c := simClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ent := core.Entity{Kind: core.EntityRepository, Name: "octo/hello"}
	j, err := sim.QueueJob(forgesim.JobSpec{Repo: "octo/hello", Labels: []string{"self-hosted", "linux"}, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{})
	if err != nil || len(first.Jobs) != 1 {
		t.Fatalf("first listing = %+v, %v", first, err)
	}
	jit, err := c.JITConfig(ctx, ent, forge.JITRequest{Name: "pdk-1", Labels: []string{"self-hosted", "linux"}, RunnerGroupID: 1})
	if err != nil {
		t.Fatal(err)
	}
	go agent.Run(ctx, jit.Encoded, io.Discard)
	testutil.Eventually(t, "the job runs", 5*time.Second, func() bool { return sim.Jobs()[0].Status == forgesim.StatusInProgress })

	asked := 0
	claim := func(run int64) (string, bool) {
		asked++
		return "pdk-1", run == j.RunID
	}
	got, err := c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{ETags: first.ETags, RunClaim: claim})
	if err != nil {
		t.Fatal(err)
	}
	// The two run listings changed (charged); the run's jobs were not asked for.
	if got.Calls != 2 || asked != 1 || len(got.Jobs) != 0 || len(got.InProgress) != 1 ||
		got.InProgress[0].ID != j.ID || got.InProgress[0].RunnerName != "pdk-1" || got.InProgress[0].State != core.JobInProgress {
		t.Fatalf("listing with the claim = calls %d, asked %d, %+v", got.Calls, asked, got)
	}
	// No claim: the run's jobs are listed, charged, since they changed.
	got, err = c.ListQueuedJobsIf(ctx, ent, forge.QueuedQuery{RunClaim: func(int64) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Calls != 3 || len(got.InProgress) != 1 || got.InProgress[0].RunnerName != "pdk-1" {
		t.Fatalf("listing without the claim = %+v", got)
	}
}
