package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/metrics"
)

var (
	repoEnt  = core.Entity{Kind: core.EntityRepository, Name: "octo/hello"}
	orgEnt   = core.Entity{Kind: core.EntityOrganization, Name: "octo"}
	enterEnt = core.Entity{Kind: core.EntityEnterprise, Name: "acme"}
)

// newTestClient serves h under /api/v3/ (as GHES does) and returns a PAT client.
func newTestClient(t *testing.T, h http.HandlerFunc, m *metrics.Metrics) *Client {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/api/v3", h))
	t.Cleanup(srv.Close)
	c, err := New(core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: srv.URL + "/api/v3/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "pat-123"}},
		Options{HTTPClient: srv.Client(), Metrics: m, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func TestRetriesServerErrorThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer pat-123" {
			t.Errorf("auth header = %q", r.Header.Get("Authorization"))
		}
		if calls.Add(1) == 1 {
			writeJSON(w, 502, `{"message":"bad gateway"}`)
			return
		}
		writeJSON(w, 200, `[{"os":"linux","architecture":"x64","download_url":"https://x/r.tgz","filename":"r.tgz","sha256_checksum":"ab"}]`)
	}, nil)
	tools, err := c.RunnerDownloads(context.Background(), repoEnt)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || len(tools) != 1 || tools[0].SHA256 != "ab" || tools[0].Architecture != "x64" {
		t.Fatalf("calls=%d tools=%+v", calls.Load(), tools)
	}
}

func TestServerErrorRetriesAreBounded(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 500, `{"message":"boom"}`)
	}, nil)
	if _, err := c.ListRunners(context.Background(), orgEnt); err == nil {
		t.Fatal("want error")
	}
	if calls.Load() != 4 { // first try + 3 retries
		t.Fatalf("calls = %d, want 4", calls.Load())
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, `{"message":"Bad credentials"}`)
	}, nil)
	_, err := c.ListRunners(context.Background(), repoEnt)
	if err == nil || calls.Load() != 1 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
}

func TestRetryBackoffRespectsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, `{"message":"down"}`)
	}))
	defer srv.Close()
	c, err := New(core.Forge{APIURL: srv.URL, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}},
		Options{RetryBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.ListRunners(ctx, repoEnt)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err=%v after %s", err, time.Since(start))
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "42")
		writeJSON(w, 429, `{"message":"You have exceeded a secondary rate limit"}`)
	}, nil)
	_, err := c.ListRunners(context.Background(), repoEnt)
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 42*time.Second {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("rate limit was retried: %d calls", calls.Load())
	}
}

func TestPrimaryRateLimitUsesReset(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(now.Add(90*time.Second).Unix()))
		writeJSON(w, 403, `{"message":"API rate limit exceeded for user ID 1."}`)
	}))
	defer srv.Close()
	c, err := New(core.Forge{APIURL: srv.URL, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}},
		Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	err = c.DeleteRunner(context.Background(), orgEnt, 5)
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 90*time.Second {
		t.Fatalf("err = %v", err)
	}
}

func TestForbiddenWithoutRateLimitIsPlainError(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, `{"message":"Resource not accessible by integration"}`)
	}, nil)
	_, err := c.ListRunners(context.Background(), repoEnt)
	var rl *forge.RateLimitError
	if err == nil || errors.As(err, &rl) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeleteRunnerBusyAndGone(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/enterprises/acme/actions/runners/7":
			writeJSON(w, 422, `{"message":"Bad request - Runner \"r7\" is still running a job\"","documentation_url":"https://docs.github.com/rest"}`)
		case "/enterprises/acme/actions/runners/8":
			writeJSON(w, 404, `{"message":"Not Found"}`)
		case "/enterprises/acme/actions/runners/9":
			w.WriteHeader(204)
		case "/enterprises/acme/actions/runners/10":
			writeJSON(w, 422, `{"message":"Validation Failed"}`)
		default:
			t.Errorf("unexpected path %s", r.URL.Path)
		}
	}, nil)
	ctx := context.Background()
	if err := c.DeleteRunner(ctx, enterEnt, 7); !errors.Is(err, forge.ErrRunnerBusy) {
		t.Errorf("busy: %v", err)
	}
	if err := c.DeleteRunner(ctx, enterEnt, 8); err != nil {
		t.Errorf("gone: %v", err)
	}
	if err := c.DeleteRunner(ctx, enterEnt, 9); err != nil {
		t.Errorf("ok: %v", err)
	}
	if err := c.DeleteRunner(ctx, enterEnt, 10); err == nil || errors.Is(err, forge.ErrRunnerBusy) {
		t.Errorf("other 422: %v", err)
	}
}

func TestListRunnersPaginates(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orgs/octo/actions/runners" || r.URL.Query().Get("per_page") != "100" {
			t.Errorf("request %s", r.URL)
		}
		switch r.URL.Query().Get("page") {
		case "", "1":
			w.Header().Set("Link", `<http://`+r.Host+`/api/v3/orgs/octo/actions/runners?per_page=100&page=2>; rel="next"`)
			writeJSON(w, 200, `{"total_count":2,"runners":[{"id":1,"name":"a","status":"online","busy":true,"labels":[{"name":"x"}]}]}`)
		case "2":
			writeJSON(w, 200, `{"total_count":2,"runners":[{"id":2,"name":"b","status":"offline","busy":false,"labels":[]}]}`)
		default:
			t.Errorf("page %s", r.URL.Query().Get("page"))
		}
	}, nil)
	rs, err := c.ListRunners(context.Background(), orgEnt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Name != "a" || !rs[0].Busy || rs[0].Labels[0] != "x" || rs[1].ID != 2 || rs[1].Status != "offline" {
		t.Fatalf("runners = %+v", rs)
	}
}

func TestMetricsCountCallsByTemplate(t *testing.T) {
	m := metrics.New()
	var calls atomic.Int32
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "4321")
		if calls.Add(1) == 1 {
			writeJSON(w, 500, `{}`)
			return
		}
		w.WriteHeader(204)
	}, m)
	if err := c.DeleteRunner(context.Background(), repoEnt, 99); err != nil {
		t.Fatal(err)
	}
	ep := "DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}"
	if got := metricValue(t, m.ForgeCalls.WithLabelValues("gh", ep, "500")); got != 1 {
		t.Errorf("500 count = %v", got)
	}
	if got := metricValue(t, m.ForgeCalls.WithLabelValues("gh", ep, "204")); got != 1 {
		t.Errorf("204 count = %v", got)
	}
	if got := metricValue(t, m.RateLimitRemaining.WithLabelValues("gh")); got != 4321 {
		t.Errorf("remaining = %v", got)
	}
}

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/repos/o/r/actions/runners/downloads":              "/repos/{owner}/{repo}/actions/runners/downloads",
		"/repos/o/r/actions/runners/123":                    "/repos/{owner}/{repo}/actions/runners/{runner_id}",
		"/enterprises/e/actions/runners/generate-jitconfig": "/enterprises/{enterprise}/actions/runners/generate-jitconfig",
		"/repos/o/r/actions/runs/5/jobs":                    "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
		"/app/installations/3/access_tokens":                "/app/installations/{installation_id}/access_tokens",
		"/user":                                             "other",
	} {
		if got := endpoints("/api/v3/").Name("GET", "/api/v3"+in); got != "GET "+want {
			t.Errorf("endpoint of %q = %q, want GET %q", in, got, want)
		}
	}
}

func TestBadEntitiesAndConfig(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request expected, got %s", r.URL)
	}, nil)
	ctx := context.Background()
	for _, e := range []core.Entity{
		{Kind: core.EntityRepository, Name: "no-slash"},
		{Kind: core.EntityRepository, Name: "a/b/c"},
		{Kind: core.EntityOrganization, Name: "a/b"},
		{Kind: core.EntityOrganization, Name: "bad name"},
		{Kind: "team", Name: "x"},
	} {
		if _, err := c.ListRunners(ctx, e); err == nil {
			t.Errorf("entity %+v accepted", e)
		}
	}
	if _, err := c.JITConfig(ctx, repoEnt, forge.JITRequest{Name: "r1"}); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Errorf("JIT without labels: %v", err)
	}
	for _, f := range []core.Forge{
		{APIURL: "", Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}},
		{APIURL: "ftp://x/", Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}},
		{APIURL: "https://api.github.com/", Credential: core.Credential{Kind: core.CredentialPAT}},
		{APIURL: "https://api.github.com/", Credential: core.Credential{Kind: core.CredentialApp, AppID: 1, InstallationID: 2, PrivateKeyPEM: "nope"}},
		{APIURL: "https://api.github.com/", Kind: core.ForgeGitea, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}},
	} {
		if _, err := New(f, Options{}); err == nil {
			t.Errorf("forge %+v accepted", f)
		}
	}
}

// metricValue reads a counter or gauge without prometheus/testutil (which
// would pull another module into go.mod).
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		t.Fatal(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

// "Retry-After: 0" waits the one-second floor of forgehttp.RetryAfter, as on
// Gitea: a limited forge is never asked again at once.
func TestRateLimitRetryAfterZeroWaitsASecond(t *testing.T) {
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		writeJSON(w, 429, `{"message":"You have exceeded a secondary rate limit"}`)
	}, nil)
	_, err := c.ListRunners(context.Background(), repoEnt)
	var rl *forge.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("err = %v; want a rate limit of 1s", err)
	}
}
