package intake_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
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

// Deliveries from the Gitea-flavour sim carry what a real Gitea 1.25.4
// sends (X-Gitea-*, X-Gogs-*, GitHub's headers with a sha1 X-Hub-Signature,
// a job payload without workflow_name or runner group, run_attempt 0 and no
// conclusion while queued, steps null): Paddock accepts and parses them.
func TestGitea125DeliveriesParse(t *testing.T) {
	srv, rec := setupGitea(t)
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea, ForgeVersion: "1.25.4",
		WebhookURL: srv.URL + "/webhooks/gitea", WebhookSecret: secret})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	j, err := sim.QueueJob(forgesim.JobSpec{Repo: "acme/app", Labels: []string{"linux"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.SupersedeJob(j.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "two deliveries answered", 10*time.Second, func() bool {
		ds := sim.Deliveries()
		return len(ds) == 2 && ds[1].Status != 0
	})
	for _, d := range sim.Deliveries() {
		if d.Status != http.StatusOK {
			t.Fatalf("delivery %+v; want 200", d)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	q, c := rec.events[0], rec.events[1]
	if q.Action != core.JobActionQueued || q.Job.ID != j.ID || q.Entity.Repository != "acme/app" ||
		len(q.Job.Labels) != 1 || q.Job.Labels[0] != "linux" || q.Job.QueuedAt.IsZero() {
		t.Fatalf("queued event %+v", q)
	}
	if c.Action != core.JobActionCompleted || c.Job.Conclusion != "cancelled" || c.Job.RunnerName != "" {
		t.Fatalf("superseded event %+v; want completed, cancelled, no runner", c)
	}
}

// Gitea also sends a sha1 X-Hub-Signature and X-Gogs-Signature; Paddock
// verifies with the sha256 signatures only, so a valid sha1 signature does
// not let a body with a wrong sha256 one through, and a bogus sha1 one does
// not stop a body with a valid sha256 one.
func TestGiteaVerifiesSHA256SignatureOnly(t *testing.T) {
	srv, rec := setupGitea(t)
	body := payload("queued")
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	sha1Sig := "sha1=" + hex.EncodeToString(mac.Sum(nil))
	good := gitea.Sign([]byte(secret), body)
	bad := gitea.Sign([]byte("other"), body)
	real := func(delivery, sig256, sigSHA1 string) map[string]string {
		return map[string]string{"X-Gitea-Event": "workflow_job", "X-Gitea-Event-Type": "workflow_job",
			"X-Gitea-Delivery": delivery, "X-Gitea-Signature": sig256, "X-Gogs-Event": "workflow_job",
			"X-Gogs-Delivery": delivery, "X-Gogs-Signature": sig256, "X-GitHub-Event": "workflow_job",
			"X-GitHub-Delivery": delivery, "X-Hub-Signature": sigSHA1, "X-Hub-Signature-256": "sha256=" + sig256,
			"X-GitHub-Hook-Installation-Target-Type": "repository"}
	}
	if code, out := postGitea(t, srv.URL+"/webhooks/gitea", real("s-1", bad, sha1Sig), body); code != http.StatusUnauthorized {
		t.Fatalf("valid sha1, wrong sha256: got %d %s; want 401", code, out)
	}
	if code, out := postGitea(t, srv.URL+"/webhooks/gitea", real("s-2", good, "sha1=00"), body); code != http.StatusOK {
		t.Fatalf("valid sha256, bogus sha1: got %d %s; want 200", code, out)
	}
	only := map[string]string{"X-Gitea-Event": "workflow_job", "X-Gitea-Delivery": "s-3", "X-Hub-Signature": sha1Sig}
	if code, out := postGitea(t, srv.URL+"/webhooks/gitea", only, body); code != http.StatusUnauthorized {
		t.Fatalf("sha1 signature alone: got %d %s; want 401", code, out)
	}
	if rec.count() != 1 {
		t.Fatalf("%d events handled; want only the validly signed one", rec.count())
	}
}
