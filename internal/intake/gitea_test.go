package intake_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/testutil"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

func setupGitea(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	st := teststore.Open(t)
	for _, f := range []core.Forge{
		{Name: "gt", Kind: core.ForgeGitea, APIURL: "http://gitea/api/v1/", WebhookSecret: secret,
			Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}},
		{Name: "fj", Kind: core.ForgeForgejo, APIURL: "http://forgejo/api/v1/", WebhookSecret: "forgejo-secret",
			Credential: core.Credential{Kind: core.CredentialPAT, Token: "x"}},
	} {
		if err := st.CreateForge(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	mux := http.NewServeMux()
	(&intake.Handler{Store: st, Events: rec, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

func postGitea(t *testing.T, url string, h map[string]string, body []byte) (int, string) {
	t.Helper()
	code, _, b := testutil.Request(t, http.MethodPost, url, h, body)
	return code, string(b)
}

func giteaHeaders(delivery, sig string) map[string]string {
	return map[string]string{"X-Gitea-Event": "workflow_job", "X-Gitea-Delivery": delivery, "X-Gitea-Signature": sig}
}

func TestGiteaWebhookAcceptedAndDeduped(t *testing.T) {
	srv, rec := setupGitea(t)
	body := payload("queued")
	sig := gitea.Sign([]byte(secret), body)
	code, out := postGitea(t, srv.URL+"/webhooks/gitea", giteaHeaders("g-1", sig), body)
	if code != http.StatusOK || !strings.Contains(out, "stored") || rec.count() != 1 {
		t.Fatalf("got %d %s, %d events", code, out, rec.count())
	}
	code, out = postGitea(t, srv.URL+"/webhooks/gitea", giteaHeaders("g-1", sig), body)
	if code != http.StatusOK || !strings.Contains(out, "duplicate") {
		t.Fatalf("replay: got %d %s", code, out)
	}
	// Forgejo's own headers, verified with the Forgejo forge's secret.
	fsig := gitea.Sign([]byte("forgejo-secret"), body)
	code, out = postGitea(t, srv.URL+"/webhooks/forgejo", map[string]string{"X-Forgejo-Event": "workflow_job",
		"X-Forgejo-Delivery": "f-1", "X-Forgejo-Signature": fsig}, body)
	if code != http.StatusOK {
		t.Fatalf("forgejo: got %d %s", code, out)
	}
}

func TestGiteaForgedSignaturesRejected(t *testing.T) {
	srv, rec := setupGitea(t)
	body := payload("queued")
	for name, h := range map[string]map[string]string{
		"missing":     giteaHeaders("d-1", ""),
		"wrong key":   giteaHeaders("d-2", gitea.Sign([]byte("other"), body)),
		"other body":  giteaHeaders("d-3", gitea.Sign([]byte(secret), payload("completed"))),
		"not hex":     giteaHeaders("d-4", "zzzz"),
		"other forge": giteaHeaders("d-5", gitea.Sign([]byte("forgejo-secret"), body)), // Forgejo's secret on the Gitea route
	} {
		if code, out := postGitea(t, srv.URL+"/webhooks/gitea", h, body); code != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", name, code, out)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("%d events handled from forged deliveries", rec.count())
	}
}

func TestGiteaWebhookForUnmanagedRepoIsIgnoredWith2xx(t *testing.T) {
	srv, rec := setupGitea(t)
	rec.answer = func(forge.JobEvent) (jobevent.Outcome, error) { return "", jobevent.ErrNotManaged }
	body := payload("queued")
	code, out := postGitea(t, srv.URL+"/webhooks/gitea", giteaHeaders("u-1", gitea.Sign([]byte(secret), body)), body)
	if code != http.StatusAccepted || !strings.Contains(out, "acme/app is not managed") {
		t.Fatalf("got %d %s; want 202 with a reason", code, out)
	}
}
