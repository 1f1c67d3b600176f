package intake_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

type pollRecorder struct {
	mu    sync.Mutex
	polls []string
}

func (p *pollRecorder) PollNow(forgeID, entityID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls = append(p.polls, forgeID+"/"+entityID)
	return true
}

func (p *pollRecorder) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.polls...)
}

// Forgejo sends no workflow_job webhook; the push that queued a job must
// make Paddock poll that repository at once.
func TestForgejoPushTriggersImmediatePoll(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	rec, polls := &recorder{}, &pollRecorder{}
	mux := http.NewServeMux()
	(&intake.Handler{Store: st, Events: rec, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Polls: polls}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorForgejo, WebhookURL: srv.URL + "/webhooks/forgejo",
		WebhookSecret: "forgejo-secret"})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	f := core.Forge{Name: "fj", Kind: core.ForgeForgejo, APIURL: sim.URL() + "api/v1/", WebhookSecret: "forgejo-secret",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}}
	if err := st.CreateForge(ctx, &f); err != nil {
		t.Fatal(err)
	}
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "acme/app", Intake: core.IntakeWebhook}
	if err := st.CreateEntity(ctx, &e); err != nil {
		t.Fatal(err)
	}
	j, _ := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	_, _ = sim.QueueJob(forgesim.JobSpec{Repo: "someone/else", Labels: []string{"linux"}})

	testutil.Within(5*time.Second, func() bool { return len(sim.Deliveries()) >= 2 })
	ds := sim.Deliveries()
	if len(ds) != 2 || ds[0].JobID != j.ID || ds[0].Status != http.StatusAccepted || ds[1].Status != http.StatusAccepted {
		t.Fatalf("deliveries = %+v; want two push deliveries answered 202", ds)
	}
	if got := polls.got(); len(got) != 1 || got[0] != f.ID+"/"+e.ID {
		t.Fatalf("polls asked = %v; want one for acme/app", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.events) != 0 {
		t.Fatalf("a push became job events: %+v", rec.events)
	}
}
