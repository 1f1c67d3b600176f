package gitea_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
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

// Gitea lists a job blocked on its `needs` with status "waiting" (its
// ToActionsStatus maps StatusBlocked so); such a job cannot be picked up
// yet, and counting it as queued booted machines that sat idle.
func TestBlockedJobsAreNotQueued(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"version":"1.25.4"}`)
	})
	mux.HandleFunc("GET /api/v1/repos/acme/app/actions/jobs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("status") != "queued" {
			_, _ = io.WriteString(w, `{"total_count":0,"jobs":[]}`)
			return
		}
		_, _ = io.WriteString(w, `{"total_count":2,"jobs":[
			{"id":1,"run_id":1,"status":"queued","labels":["linux"],"created_at":"2026-01-01T00:00:00Z","started_at":"1970-01-01T00:00:00Z"},
			{"id":2,"run_id":1,"status":"waiting","labels":["linux"],"created_at":"2026-01-01T00:00:00Z","started_at":"1970-01-01T00:00:00Z"}]}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := c.ListQueuedJobs(context.Background(), repo)
	if err != nil || len(jobs) != 1 || jobs[0].ID != 1 {
		t.Fatalf("ListQueuedJobs = %+v, %v; want only job 1", jobs, err)
	}
	lst, err := c.ListQueuedJobsIf(context.Background(), repo, forge.QueuedQuery{})
	if err != nil || len(lst.Jobs) != 1 || lst.Jobs[0].ID != 1 {
		t.Fatalf("ListQueuedJobsIf = %+v, %v; want only job 1", lst.Jobs, err)
	}
}

// A forge whose version should have the runner API but answers 404 on it
// (a proxy, a fork) must not have that 404 read as "the runner is gone" nor
// as "no runners": the first listing already says ErrUnsupported (the
// repository itself answers, so the endpoint is what is missing), and a
// delete succeeds without reading the runner as gone.
func TestMissingRunnerEndpointIsNotReadAsGone(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"version":"1.25.4"}`)
	})
	mux.HandleFunc("GET /api/v1/repos/acme/app", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"id":1,"full_name":"acme/app"}`)
	})
	srv := httptest.NewServer(mux) // every other path: 404
	t.Cleanup(srv.Close)
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListRunners(context.Background(), repo); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("first ListRunners on a 404 runner API: %v; want ErrUnsupported", err)
	}
	if c.Capabilities().RunnerAPI {
		t.Fatal("Capabilities().RunnerAPI still true after the runner API answered 404")
	}
	if err := c.DeleteRunner(context.Background(), repo, 5); err != nil {
		t.Fatalf("DeleteRunner: %v; the machine's deletion must not be blocked", err)
	}
	if _, err := c.ListRunners(context.Background(), repo); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ListRunners after a 404 runner API: %v; want ErrUnsupported", err)
	}
}

// A repository that does not exist (or the token cannot see) also makes its
// runner listing answer 404. That is the entity's problem, reported as
// ErrNotFound, and must not switch the runner API off for the forge's other
// entities.
func TestMissingRepositoryDoesNotDisableRunnerAPI(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"version":"1.25.4"}`)
	})
	mux.HandleFunc("GET /api/v1/repos/acme/app/actions/runners", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"total_count":1,"runners":[{"id":3,"name":"r3","status":"idle","labels":[]}]}`)
	})
	srv := httptest.NewServer(mux) // acme/gone and its runners: 404
	t.Cleanup(srv.Close)
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	gone := core.Entity{Kind: core.EntityRepository, Name: "acme/gone"}
	if _, err := c.ListRunners(context.Background(), gone); !errors.Is(err, forge.ErrNotFound) || errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("ListRunners of a missing repository: %v; want ErrNotFound, not ErrUnsupported", err)
	}
	if err := c.DeleteRunner(context.Background(), gone, 9); err != nil {
		t.Fatalf("DeleteRunner in a missing repository: %v; want nil (nothing left to delete)", err)
	}
	rs, err := c.ListRunners(context.Background(), repo)
	if err != nil || len(rs) != 1 || rs[0].ID != 3 {
		t.Fatalf("ListRunners of an existing repository afterwards = %+v, %v; want runner 3", rs, err)
	}
}
