package forgehttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
	"github.com/paddock-ci/paddock/internal/metrics"
)

func TestRetryAfterRule(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for name, tc := range map[string]struct {
		h    http.Header
		want time.Duration
	}{
		"seconds":              {http.Header{"Retry-After": {"42"}}, 42 * time.Second},
		"http date":            {http.Header{"Retry-After": {now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}}, 90 * time.Second},
		"retry-after wins":     {http.Header{"Retry-After": {"5"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+600, 10)}}, 5 * time.Second},
		"reset when spent":     {http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+600, 10)}}, 10 * time.Minute},
		"reset ignored if any": {http.Header{"X-Ratelimit-Remaining": {"7"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+600, 10)}}, forgehttp.DefaultWait},
		"nothing":              {http.Header{}, time.Minute},
		"garbage":              {http.Header{"Retry-After": {"soon"}}, time.Minute},
		"zero floors":          {http.Header{"Retry-After": {"0"}}, time.Second},
		"past reset floors":    {http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()-5, 10)}}, time.Second},
	} {
		if got := forgehttp.RetryAfter(tc.h, now); got != tc.want {
			t.Errorf("%s: RetryAfter = %s, want %s", name, got, tc.want)
		}
	}
}

// server answers with the statuses in order, then 200 "ok"; it counts hits.
func server(t *testing.T, hdr http.Header, body string, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		for k, v := range hdr {
			w.Header()[k] = v
		}
		if i < len(statuses) {
			w.WriteHeader(statuses[i])
			_, _ = io.WriteString(w, body)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func client(o forgehttp.Options) *http.Client {
	o.RetryBackoff = time.Millisecond
	return &http.Client{Transport: forgehttp.Transport(nil, o)}
}

func send(t *testing.T, c *http.Client, ctx context.Context, method, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestRateLimitBecomesOneErrorType(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for name, tc := range map[string]struct {
		status int
		hdr    http.Header
		body   string
		wait   time.Duration
		msg    string
	}{
		"429 bare":          {429, nil, "", time.Minute, "Too Many Requests"},
		"429 retry-after":   {429, http.Header{"Retry-After": {"3"}}, `{"message":"slow down"}`, 3 * time.Second, "slow down"},
		"403 primary":       {403, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(now.Unix()+30, 10)}}, `{"message":"API rate limit exceeded"}`, 30 * time.Second, "API rate limit exceeded"},
		"403 secondary msg": {403, nil, `{"message":"You have exceeded a secondary rate limit"}`, time.Minute, "You have exceeded a secondary rate limit"},
		"403 text body":     {403, http.Header{"Retry-After": {"2"}}, "go away", 2 * time.Second, "go away"},
	} {
		srv, hits := server(t, tc.hdr, tc.body, tc.status, tc.status, tc.status, tc.status)
		c := client(forgehttp.Options{Now: func() time.Time { return now }})
		_, _, err := send(t, c, context.Background(), http.MethodGet, srv.URL)
		var rl *forge.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != tc.wait || rl.Message != tc.msg {
			t.Errorf("%s: err = %v, want RateLimitError{%s, %q}", name, err, tc.wait, tc.msg)
		}
		if hits.Load() != 1 {
			t.Errorf("%s: rate limit was sent %d times, want once (never retried)", name, hits.Load())
		}
	}
}

func TestPermission403PassesThroughIntact(t *testing.T) {
	body := `{"message":"Resource not accessible by integration"}`
	srv, _ := server(t, nil, body, 403)
	status, got, err := send(t, client(forgehttp.Options{}), context.Background(), http.MethodGet, srv.URL)
	if err != nil || status != 403 || got != body {
		t.Fatalf("got %d %q %v; want the 403 with its body unread", status, got, err)
	}
}

func TestRetriesOnlyWhatIsSafeToRepeat(t *testing.T) {
	for name, tc := range map[string]struct {
		method string
		ctx    func(context.Context) context.Context
		status int
		hits   int32
	}{
		"GET retried":           {http.MethodGet, nil, 200, 3},
		"DELETE retried":        {http.MethodDelete, nil, 200, 3},
		"POST sent once":        {http.MethodPost, nil, 502, 1},
		"idempotent POST":       {http.MethodPost, forgehttp.Idempotent, 200, 3},
		"NoRetry GET sent once": {http.MethodGet, forgehttp.NoRetry, 502, 1},
	} {
		srv, hits := server(t, nil, "bad gateway", 502, 503)
		ctx := context.Background()
		if tc.ctx != nil {
			ctx = tc.ctx(ctx)
		}
		status, _, err := send(t, client(forgehttp.Options{}), ctx, tc.method, srv.URL)
		if err != nil || status != tc.status || hits.Load() != tc.hits {
			t.Errorf("%s: status %d err %v after %d hits; want %d after %d", name, status, err, hits.Load(), tc.status, tc.hits)
		}
	}
}

func TestRetriesAreBoundedAndGiveBackTheLastAnswer(t *testing.T) {
	srv, hits := server(t, nil, "still down", 500, 500, 500, 500, 500, 500)
	status, body, err := send(t, client(forgehttp.Options{MaxRetries: 2}), context.Background(), http.MethodGet, srv.URL)
	if err != nil || status != 500 || body != "still down" || hits.Load() != 3 {
		t.Fatalf("got %d %q %v after %d hits; want the last 500 with its body after 3", status, body, err, hits.Load())
	}
	srv, hits = server(t, nil, "", 404, 404)
	if status, _, _ := send(t, client(forgehttp.Options{}), context.Background(), http.MethodGet, srv.URL); status != 404 || hits.Load() != 1 {
		t.Fatalf("404 answered %d after %d hits; 4xx must not be retried", status, hits.Load())
	}
	srv, hits = server(t, nil, "", 500, 500)
	if status, _, _ := send(t, client(forgehttp.Options{MaxRetries: -1}), context.Background(), http.MethodGet, srv.URL); status != 500 || hits.Load() != 1 {
		t.Fatalf("MaxRetries -1: %d after %d hits; want one attempt", status, hits.Load())
	}
}

func TestTransportErrorsAreRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close() // reset: no answer at all
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	status, body, err := send(t, client(forgehttp.Options{}), context.Background(), http.MethodGet, srv.URL)
	if err != nil || status != 200 || body != "ok" || n.Load() != 2 {
		t.Fatalf("got %d %q %v after %d hits; want ok after a retry", status, body, err, n.Load())
	}
}

func TestCancelStopsTheBackoff(t *testing.T) {
	srv, _ := server(t, nil, "", 500, 500, 500, 500)
	c := &http.Client{Transport: forgehttp.Transport(nil, forgehttp.Options{RetryBackoff: time.Hour})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, _, err := send(t, c, ctx, http.MethodGet, srv.URL); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the context's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled request kept waiting out its backoff")
	}
}

func TestMetricsCountEveryAttemptByTemplate(t *testing.T) {
	srv, _ := server(t, http.Header{"X-Ratelimit-Remaining": {"4999"}}, "", 500)
	m := metrics.New()
	eps := (&forgehttp.Endpoints{}).
		Mount("/api/v1", "", "/repos/{owner}/{repo}/actions/runners/{id}", "/repos/{owner}/{repo}/actions/runners/registration-token").
		Mount("/api/actions", "/rpc", "/runner.v1.RunnerService/Register")
	c := client(forgehttp.Options{Forge: "f", Metrics: m, Endpoints: eps})
	if _, _, err := send(t, c, context.Background(), http.MethodDelete, srv.URL+"/api/v1/repos/o/r/actions/runners/12"); err != nil {
		t.Fatal(err)
	}
	ep := "DELETE /repos/{owner}/{repo}/actions/runners/{id}"
	if a, b := value(t, m.ForgeCalls.WithLabelValues("f", ep, "500")), value(t, m.ForgeCalls.WithLabelValues("f", ep, "200")); a != 1 || b != 1 {
		t.Fatalf("ForgeCalls %s: 500=%v 200=%v, want one of each", ep, a, b)
	}
	if v := value(t, m.RateLimitRemaining.WithLabelValues("f")); v != 4999 {
		t.Fatalf("RateLimitRemaining = %v, want 4999", v)
	}
	for path, want := range map[string]string{
		"/api/v1/repos/o/r/actions/runners/registration-token": "GET /repos/{owner}/{repo}/actions/runners/registration-token",
		"/api/v1/repos/o/r/actions/runners/7":                  "GET /repos/{owner}/{repo}/actions/runners/{id}",
		"/api/actions/runner.v1.RunnerService/Register":        "GET /rpc/runner.v1.RunnerService/Register",
		"/api/v1/user":                       "GET other",
		"/elsewhere":                         "GET other",
		"/api/v1/repos/o//actions/runners/7": "GET other",
	} {
		if got := eps.Name(http.MethodGet, path); got != want {
			t.Errorf("Name(%s) = %q, want %q", path, got, want)
		}
	}
}

func value(t *testing.T, m prometheus.Metric) float64 {
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
