package intake_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/intake"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

// forgeRecorder notes which forge each delivery was attributed to.
type forgeRecorder struct {
	mu     sync.Mutex
	forges []string
}

func (r *forgeRecorder) HandleJobEvent(_ context.Context, forgeID string, _ forge.JobEvent, _ time.Time) (controller.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forges = append(r.forges, forgeID)
	return controller.OutcomeStored, nil
}

func (r *forgeRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.forges) == 0 {
		return ""
	}
	return r.forges[len(r.forges)-1]
}

// Forges that share one webhook secret, as a store written before shared
// secrets were refused can hold: each delivery must reach the forge it comes
// from, not whichever secret happened to verify first.
func TestSharedSecretDeliveryRouting(t *testing.T) {
	ctx := context.Background()
	st := teststore.Open(t)
	const shared = "one-secret-for-all"
	ids := map[string]string{}
	for _, f := range []core.Forge{
		// Names sort "a-*" first: the old code attributed everything to a-ghes.
		{Name: "a-ghes", WebURL: "https://ghes.a.example/", APIURL: "https://ghes.a.example/api/v3/"},
		{Name: "b-ghes", WebURL: "https://ghes.b.example/", APIURL: "https://ghes.b.example/api/v3/"},
		{Name: "c-dotcom", WebURL: "https://github.com/", APIURL: "https://api.github.com/",
			Credential: core.Credential{Kind: core.CredentialApp, AppID: 1, InstallationID: 111, PrivateKeyPEM: "k"}},
		{Name: "d-dotcom", WebURL: "https://github.com/", APIURL: "https://api.github.com/",
			Credential: core.Credential{Kind: core.CredentialApp, AppID: 1, InstallationID: 222, PrivateKeyPEM: "k"}},
	} {
		f.Kind, f.WebhookSecret = core.ForgeGitHub, shared
		if f.Credential.Kind == "" {
			f.Credential = core.Credential{Kind: core.CredentialPAT, Token: "x"}
		}
		if err := st.CreateForge(ctx, &f); err != nil {
			t.Fatal(err)
		}
		ids[f.Name] = f.ID
	}
	for _, e := range []core.Entity{
		{ForgeID: ids["a-ghes"], Kind: core.EntityRepository, Name: "acme/app"},
		{ForgeID: ids["b-ghes"], Kind: core.EntityRepository, Name: "acme/app"}, // same name on another host
		{ForgeID: ids["b-ghes"], Kind: core.EntityOrganization, Name: "beta"},
		{ForgeID: ids["c-dotcom"], Kind: core.EntityRepository, Name: "gamma/svc"},
		{ForgeID: ids["d-dotcom"], Kind: core.EntityRepository, Name: "delta/svc"},
	} {
		e.Intake = core.IntakeWebhook
		if err := st.CreateEntity(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	rec := &forgeRecorder{}
	mux := http.NewServeMux()
	(&intake.Handler{Store: st, Events: rec, Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	n := 0
	deliver := func(path string, repo map[string]any, extra map[string]any) {
		t.Helper()
		n++
		p := map[string]any{"action": "queued", "repository": repo,
			"workflow_job": map[string]any{"id": n, "run_id": 1, "run_attempt": 1, "status": "queued", "name": "b", "labels": []string{"self-hosted"}}}
		for k, v := range extra {
			p[k] = v
		}
		body, _ := json.Marshal(p)
		mac := hmac.New(sha256.New, []byte(shared))
		mac.Write(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-GitHub-Event", "workflow_job")
		req.Header.Set("X-GitHub-Delivery", "d-"+string(rune('a'+n)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("delivery %d: status %d", n, resp.StatusCode)
		}
	}
	repo := func(full, htmlURL string) map[string]any {
		return map[string]any{"full_name": full, "name": "x", "html_url": htmlURL, "owner": map[string]any{"login": "x"}}
	}
	for _, tc := range []struct {
		what, path string
		repo       map[string]any
		extra      map[string]any
		want       string
	}{
		{"host tells same-named repositories apart", "/webhooks/github", repo("acme/app", "https://ghes.b.example/acme/app"), nil, "b-ghes"},
		{"host, other forge", "/webhooks/github", repo("acme/app", "https://ghes.a.example/acme/app"), nil, "a-ghes"},
		{"organization entity", "/webhooks/github", repo("beta/tool", ""), map[string]any{"organization": map[string]any{"login": "beta"}}, "b-ghes"},
		{"repository entity on the same host", "/webhooks/github", repo("delta/svc", "https://github.com/delta/svc"), nil, "d-dotcom"},
		{"app installation", "/webhooks/github", repo("omega/x", "https://github.com/omega/x"), map[string]any{"installation": map[string]any{"id": 222}}, "d-dotcom"},
		{"forge named in the URL", "/webhooks/github/b-ghes", repo("acme/app", "https://ghes.a.example/acme/app"), nil, "b-ghes"},
	} {
		deliver(tc.path, tc.repo, tc.extra)
		if got := rec.last(); got != ids[tc.want] {
			t.Errorf("%s: attributed to forge %s, want %s (%s)", tc.what, got, tc.want, ids[tc.want])
		}
	}
}
