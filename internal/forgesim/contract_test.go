package forgesim_test

// Holds the simulator to GitHub's published contract: every REST answer it
// gives the real adapter (internal/forge/github) is validated against GitHub's
// OpenAPI description, and every webhook it sends must verify and parse with
// the adapter. Needs scripts/contract-deps.sh (the test fails, never skips,
// without it).

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	ghforge "github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/ghcontract"
)

const ctSecret = "contract-secret"

func TestSimulatorAnswersMatchGitHubContract(t *testing.T) {
	contract := ghcontract.Must(t)
	hooks := newHookSink(t)
	sim := forgesim.New(forgesim.Options{WebhookURL: hooks.srv.URL, WebhookSecret: ctSecret, LongPoll: 2 * time.Second, Logf: t.Logf})
	if err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()

	rec := ghcontract.NewRecorder(contract, nil, "")
	cl, err := ghforge.New(core.Forge{Name: "sim", Kind: core.ForgeGitHub, APIURL: sim.URL(),
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "ghp_contract"}},
		ghforge.Options{HTTPClient: &http.Client{Transport: rec, Timeout: 10 * time.Second}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo := core.Entity{Kind: core.EntityRepository, Name: "octo/app"}
	labels := []string{"self-hosted", "linux"}

	for _, ent := range []core.Entity{repo, {Kind: core.EntityOrganization, Name: "octo"}, {Kind: core.EntityEnterprise, Name: "acme"}} {
		if _, err := cl.JITConfig(ctx, ent, forge.JITRequest{Name: "ct-" + string(ent.Kind), Labels: labels}); err != nil {
			t.Errorf("%s JITConfig: %v", ent.Kind, err)
		}
		// The same name again exercises the 409 answer and the reclaim path.
		if _, err := cl.JITConfig(ctx, ent, forge.JITRequest{Name: "ct-" + string(ent.Kind), Labels: labels}); err != nil {
			t.Errorf("%s JITConfig again: %v", ent.Kind, err)
		}
		if rs, err := cl.ListRunners(ctx, ent); err != nil || len(rs) != 1 {
			t.Errorf("%s ListRunners: %+v %v", ent.Kind, rs, err)
		}
		if tools, err := cl.RunnerDownloads(ctx, ent); err != nil || len(tools) == 0 {
			t.Errorf("%s RunnerDownloads: %+v %v", ent.Kind, tools, err)
		}
		if ent.Kind != core.EntityRepository {
			if _, err := cl.RunnerGroupID(ctx, ent, "Default"); err != nil {
				t.Errorf("%s RunnerGroupID: %v", ent.Kind, err)
			}
		}
		if err := cl.DeleteRunner(ctx, ent, 999999); err != nil {
			t.Errorf("%s DeleteRunner of unknown id: %v", ent.Kind, err)
		}
	}

	// A queued job, then a runner that takes it: the sim answers with queued
	// and in-progress runs, a busy runner, and a refused delete.
	job, err := sim.QueueJob(forgesim.JobSpec{Repo: "octo/app", Org: "octo", Labels: labels, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	queued, err := cl.ListQueuedJobs(ctx, repo)
	if err != nil || len(queued) != 1 || queued[0].ID != job.ID {
		t.Fatalf("ListQueuedJobs: %+v %v", queued, err)
	}
	cfg, err := cl.JITConfig(ctx, repo, forge.JITRequest{Name: "ct-worker", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	p, err := forgesim.DecodeJIT(cfg.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	if code := rawCall(t, "POST", sim.URL()+"_sim/runner/connect", "", map[string]string{"jit": cfg.Encoded}, nil).StatusCode; code/100 != 2 {
		t.Fatalf("connect: %d", code)
	}
	if code := rawCall(t, "GET", sim.URL()+"_sim/runner/job", p.Secret, nil, nil).StatusCode; code != http.StatusOK {
		t.Fatalf("poll: %d", code)
	}
	if err := cl.DeleteRunner(ctx, repo, cfg.RunnerID); !errors.Is(err, forge.ErrRunnerBusy) {
		t.Errorf("delete busy runner: %v", err)
	}
	if _, err := cl.ListQueuedJobs(ctx, repo); err != nil {
		t.Errorf("ListQueuedJobs while in progress: %v", err)
	}
	if _, err := cl.ListRunners(ctx, repo); err != nil {
		t.Errorf("ListRunners with busy runner: %v", err)
	}

	rec.Check(t)
	t.Logf("validated %d exchanges: %v", len(rec.Exchanges()), rec.Operations())

	// Webhooks: queued then in_progress must arrive signed and parse.
	for _, d := range hooks.waitN(t, 2) {
		if err := ghforge.VerifySignature([]byte(ctSecret), d.Body, d.Header.Get(ghforge.HeaderSignature)); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		ev, err := ghforge.ParseWorkflowJob(d.Body)
		if err != nil || ev.Job.ID != job.ID || ev.Entity.Repository != "octo/app" {
			t.Errorf("webhook parse: %+v %v", ev, err)
		}
	}
}
