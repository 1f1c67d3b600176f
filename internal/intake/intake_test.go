package intake_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

// recorder stands in for the controller: intake's job ends at handing over.
type recorder struct {
	mu     sync.Mutex
	events []forge.JobEvent
	answer func(forge.JobEvent) (jobevent.Outcome, error)
}

func (r *recorder) HandleJobEvent(_ context.Context, _ string, ev forge.JobEvent, _ time.Time) (jobevent.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if r.answer != nil {
		return r.answer(ev)
	}
	return jobevent.OutcomeStored, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

const secret = "webhook-secret"

func setup(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	return setupWrapped(t, func(h http.Handler) http.Handler { return h })
}

// setupWrapped serves the webhook routes behind wrap.
func setupWrapped(t *testing.T, wrap func(http.Handler) http.Handler) (*httptest.Server, *recorder) {
	t.Helper()
	st := teststore.Open(t)
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "https://api.github.com/", WebhookSecret: secret,
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}}
	if err := st.CreateForge(context.Background(), &f); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	mux := http.NewServeMux()
	(&intake.Handler{Store: st, Events: rec, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	srv := httptest.NewServer(wrap(mux))
	t.Cleanup(srv.Close)
	return srv, rec
}

func payload(action string) []byte {
	b, _ := json.Marshal(map[string]any{
		"action": action,
		"workflow_job": map[string]any{
			"id": 42, "run_id": 7, "run_attempt": 1, "status": action, "name": "build", "labels": []string{"self-hosted", "linux"},
			"created_at": "2026-11-25T10:00:00Z", "workflow_name": "CI", "head_branch": "main",
		},
		"repository": map[string]any{"id": 1, "name": "app", "full_name": "acme/app", "owner": map[string]any{"login": "acme"}},
		"sender":     map[string]any{"login": "dev"},
	})
	return b
}

func post(t *testing.T, url, event, delivery, sig string, body []byte) (int, string) {
	t.Helper()
	code, _, b := testutil.Request(t, http.MethodPost, url+"/webhooks/github", map[string]string{
		"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sig}, body)
	return code, string(b)
}

func sign(b []byte) string { return github.Sign([]byte(secret), b) }

func TestSignedQueuedJobIsHandedOver(t *testing.T) {
	srv, rec := setup(t)
	body := payload("queued")
	code, out := post(t, srv.URL, "workflow_job", "d-1", sign(body), body)
	if code != http.StatusOK || !strings.Contains(out, "stored") {
		t.Fatalf("got %d %s", code, out)
	}
	if rec.count() != 1 || rec.events[0].Job.ID != 42 || rec.events[0].Entity.Repository != "acme/app" {
		t.Fatalf("events = %+v", rec.events)
	}
}

func TestBadSignaturesAreRejectedAndNothingHandled(t *testing.T) {
	srv, rec := setup(t)
	body := payload("queued")
	for name, sig := range map[string]string{
		"missing":    "",
		"wrong key":  github.Sign([]byte("other"), body),
		"garbage":    "sha256=zz",
		"sha1 style": "sha1=0123",
		"other body": sign(payload("completed")),
	} {
		code, out := post(t, srv.URL, "workflow_job", "d-"+name, sig, body)
		if code != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", name, code, out)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("%d events handled from unsigned deliveries", rec.count())
	}
}

func TestReplayedDeliveryIsReportedDuplicate(t *testing.T) {
	srv, rec := setup(t)
	body := payload("queued")
	rec.answer = func(forge.JobEvent) (jobevent.Outcome, error) { return jobevent.OutcomeStored, nil }
	if code, _ := post(t, srv.URL, "workflow_job", "same", sign(body), body); code != http.StatusOK {
		t.Fatal(code)
	}
	rec.answer = func(forge.JobEvent) (jobevent.Outcome, error) { return jobevent.OutcomeUnchanged, nil }
	code, out := post(t, srv.URL, "workflow_job", "same", sign(body), body)
	if code != http.StatusOK || !strings.Contains(out, "duplicate") {
		t.Fatalf("replay: %d %s", code, out)
	}
}

func TestMalformedAndUnusedEvents(t *testing.T) {
	srv, rec := setup(t)
	bad := []byte(`{"action": "queued", "workflow_job": {`)
	if code, out := post(t, srv.URL, "workflow_job", "m1", sign(bad), bad); code != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d %s", code, out)
	}
	noID := []byte(`{"action":"queued","workflow_job":{"labels":["x"]}}`)
	if code, out := post(t, srv.URL, "workflow_job", "m2", sign(noID), noID); code != http.StatusBadRequest {
		t.Errorf("job without id: %d %s", code, out)
	}
	push := []byte(`{"ref":"refs/heads/main"}`)
	if code, out := post(t, srv.URL, "push", "m3", sign(push), push); code != http.StatusAccepted || !strings.Contains(out, "not used") {
		t.Errorf("push event: %d %s", code, out)
	}
	ping := []byte(`{"zen":"x"}`)
	if code, _ := post(t, srv.URL, "ping", "m4", sign(ping), ping); code != http.StatusOK {
		t.Errorf("ping: %d", code)
	}
	body := payload("queued")
	if code, _ := post(t, srv.URL, "", "m5", sign(body), body); code != http.StatusBadRequest {
		t.Errorf("missing event header: %d", code)
	}
	if rec.count() != 0 {
		t.Fatalf("%d events handed over from bad deliveries", rec.count())
	}
}

func TestUnmanagedRepositoryIsAcknowledgedNotFailed(t *testing.T) {
	srv, rec := setup(t)
	rec.answer = func(forge.JobEvent) (jobevent.Outcome, error) { return "", jobevent.ErrNotManaged }
	body := payload("queued")
	code, out := post(t, srv.URL, "workflow_job", "u1", sign(body), body)
	if code != http.StatusAccepted || !strings.Contains(out, "acme/app is not managed") {
		t.Fatalf("got %d %s", code, out)
	}
}

func TestHandlerFailureLetsDeliveryBeRetried(t *testing.T) {
	srv, rec := setup(t)
	rec.answer = func(forge.JobEvent) (jobevent.Outcome, error) { return "", context.DeadlineExceeded }
	body := payload("queued")
	if code, _ := post(t, srv.URL, "workflow_job", "r1", sign(body), body); code != http.StatusInternalServerError {
		t.Fatalf("got %d, want 500", code)
	}
	rec.answer = nil
	code, out := post(t, srv.URL, "workflow_job", "r1", sign(body), body)
	if code != http.StatusOK || strings.Contains(out, "duplicate") {
		t.Fatalf("redelivery after failure: %d %s", code, out)
	}
}
