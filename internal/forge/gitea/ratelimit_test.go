package gitea_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/metrics"
)

// TestRateLimitsFollowTheOneRetryAfterRule: the registration RPC and the REST
// calls read a rate limit the same way (forgehttp.RetryAfter). A 429 without
// Retry-After waits the documented minute on both (the RPC used to come back
// after one second), and "Retry-After: 0" waits the one-second floor.
func TestRateLimitsFollowTheOneRetryAfterRule(t *testing.T) {
	retryAfter := map[string]string{} // path -> Retry-After of its 429; absent: answer normally
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ra, limited := retryAfter[r.URL.Path]; limited {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"message":"slow down"}`)
			return
		}
		switch r.URL.Path {
		case "/api/v1/version":
			_, _ = io.WriteString(w, `{"version":"1.24.0"}`)
		case "/api/v1/repos/acme/app/actions/runners/registration-token":
			_, _ = io.WriteString(w, `{"token":"reg"}`)
		case "/api/v1/repos/acme/app/actions/runners": // JITConfig looks for the name first
			_, _ = io.WriteString(w, `{"total_count":0,"runners":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	m := metrics.New()
	c, err := gitea.New(context.Background(), core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: srv.URL + "/api/v1/",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: pat}}, gitea.Options{MaxRetries: -1, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, retryAfter string
		want             time.Duration
	}{
		{gitea.RegisterPath, "", time.Minute},
		{gitea.RegisterPath, "7", 7 * time.Second},
		{"/api/v1/repos/acme/app/actions/runners", "", time.Minute},
		{"/api/v1/repos/acme/app/actions/runners", "0", time.Second},
	} {
		clear(retryAfter)
		retryAfter[tc.path] = tc.retryAfter
		var err error
		if tc.path == gitea.RegisterPath {
			_, err = c.JITConfig(context.Background(), repo, forge.JITRequest{Name: "r1", Labels: []string{"linux"}})
		} else {
			_, err = c.ListRunners(context.Background(), repo)
		}
		var rl *forge.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != tc.want || rl.Message != "slow down" {
			t.Errorf("%s with Retry-After %q: err = %v; want a rate limit of %s", tc.path, tc.retryAfter, err, tc.want)
		}
	}
	// The metric labels the adapter had before the shared layer stay.
	for ep, want := range map[[2]string]float64{
		{"GET /version", "200"}:                                                 1,
		{"POST /rpc/runner.v1.RunnerService/Register", "429"}:                   2,
		{"GET /repos/{owner}/{repo}/actions/runners/registration-token", "200"}: 1,
		{"GET /repos/{owner}/{repo}/actions/runners", "429"}:                    2,
	} {
		var out dto.Metric
		if err := m.ForgeCalls.WithLabelValues("g", ep[0], ep[1]).Write(&out); err != nil {
			t.Fatal(err)
		}
		if got := out.Counter.GetValue(); got != want {
			t.Errorf("ForgeCalls{%s, %s} = %v, want %v", ep[0], ep[1], got, want)
		}
	}
}
