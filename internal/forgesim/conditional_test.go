package forgesim_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

func TestConditionalGETAnswers304AndSpendsNoBudget(t *testing.T) {
	sim := forgesim.New(forgesim.Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	get := func(etag string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/repos/o/r/actions/runs?status=queued", nil)
		req.Header.Set("Authorization", "Bearer tok")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get("")
	etag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || etag == "" {
		t.Fatalf("first: %d etag %q", first.StatusCode, etag)
	}
	remaining := first.Header.Get("X-RateLimit-Remaining")

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
		nm := get(inm)
		if nm.StatusCode != http.StatusNotModified || nm.Header.Get("ETag") != etag {
			t.Fatalf("If-None-Match %s: %d etag %q", inm, nm.StatusCode, nm.Header.Get("ETag"))
		}
		if nm.Header.Get("X-RateLimit-Remaining") != remaining {
			t.Fatalf("304 spent budget: remaining %s, was %s", nm.Header.Get("X-RateLimit-Remaining"), remaining)
		}
	}
	if _, err := sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}}); err != nil {
		t.Fatal(err)
	}
	changed := get(etag)
	if changed.StatusCode != http.StatusOK || changed.Header.Get("ETag") == etag {
		t.Fatalf("after a change: %d etag %q", changed.StatusCode, changed.Header.Get("ETag"))
	}
	if changed.Header.Get("X-RateLimit-Remaining") == remaining {
		t.Fatal("a 200 answer did not spend budget")
	}
	// A large answer is streamed before the handler returns and counts the
	// call, so the client can see it first: give the count a moment.
	var got map[int]int
	if !testutil.Within(2*time.Second, func() bool {
		got = sim.Stats().APICalls["GET /repos/{owner}/{repo}/actions/runs"]
		return got[200] == 2 && got[304] == 3
	}) {
		t.Fatalf("sim counted %v", got)
	}
}

func TestConditionalGETStillSubjectToInjectedRateLimits(t *testing.T) {
	sim := forgesim.New(forgesim.Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/repos/o/r/actions/runs", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sim.FailNext("GET /repos/{owner}/{repo}/actions/runs", http.StatusTooManyRequests, 1)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d Retry-After %q, want an injected 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
