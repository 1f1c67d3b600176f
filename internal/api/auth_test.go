package api

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/httplimit"
	"github.com/paddock-ci/paddock/internal/testutil"
)

const testMetricsToken = "metrics-token-0123456789abcdef0123"

func TestMetricsNeedsToken(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MetricsToken = testMetricsToken })
	if code, body := h.callAuth("GET", "/metrics", nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d %.200s", code, body)
	}
	for _, tok := range []string{testToken, testMetricsToken} {
		if code, body := h.callAuth("GET", "/metrics", nil, "Bearer "+tok); code != 200 || !strings.Contains(body, "paddock_dispatch_seconds") {
			t.Fatalf("metrics with a token: %d %.200s", code, body)
		}
	}
	// The metrics token opens nothing else.
	if code, _ := h.callAuth("GET", "/api/v1/pools", nil, "Bearer "+testMetricsToken); code != http.StatusUnauthorized {
		t.Fatalf("metrics token on the admin API: %d", code)
	}

	public := newHarness(t, func(o *Options) { o.MetricsPublic = true })
	if code, _ := public.callAuth("GET", "/metrics", nil, ""); code != 200 {
		t.Fatalf("public metrics: %d", code)
	}
}

// TestAuthFailuresLimited: after the allowance of wrong tokens, a client is
// answered 429 with Retry-After, even with the right token; failures are
// logged, rate-limited, without the token.
func TestAuthFailuresLimited(t *testing.T) {
	var logs testutil.SyncBuffer
	h := newHarness(t, func(o *Options) {
		o.AuthFailures = httplimit.NewAuthFailures(5, 100)
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	codes := map[int]int{}
	for i := range 50 {
		code, _ := h.callAuth("GET", "/api/v1/pools", nil, "Bearer wrong-guess-"+strings.Repeat("z", i))
		codes[code]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 45 {
		t.Fatalf("codes %v, want 5×401 then 45×429", codes)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1/pools", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "12" {
		t.Fatalf("blocked client with the right token: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	out := logs.String()
	if !strings.Contains(out, "authentication failed") || !strings.Contains(out, "client=127.0.0.1") {
		t.Fatalf("failures not logged:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n > 3 {
		t.Fatalf("%d log lines for one burst; want the log rate-limited", n)
	}
	if strings.Contains(out, "wrong-guess") || strings.Contains(out, testToken) {
		t.Fatalf("a token reached the log:\n%s", out)
	}
}

// TestNegativeJobIDRefused: negative ids are Paddock's scale-set placeholder
// space and are not addressable from outside.
func TestNegativeJobIDRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.wantError(http.StatusBadRequest, "GET", "/api/v1/jobs/-5", nil, "positive integer")
	h.wantError(http.StatusBadRequest, "GET", "/api/v1/jobs/0", nil, "positive integer")
}
