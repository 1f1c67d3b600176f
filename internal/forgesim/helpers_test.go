package forgesim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

const hookSecret = "s3cret"

// hook is one webhook delivery as the receiver saw it.
type hook struct {
	Header http.Header
	Body   []byte
}

// hookSink is a webhook receiver that records every delivery.
type hookSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []hook
	wake chan struct{}
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{wake: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hook{r.Header.Clone(), b})
		h.mu.Unlock()
		h.wake <- struct{}{}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// waitN waits until n deliveries arrived and returns them.
func (h *hookSink) waitN(t *testing.T, n int) []hook {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		h.mu.Lock()
		if len(h.got) >= n {
			out := append([]hook(nil), h.got...)
			h.mu.Unlock()
			return out
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %d webhooks (have %d)", n, len(h.got))
		}
	}
}

func (h *hookSink) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// startSim starts a sim on 127.0.0.1 with a short long-poll and returns it
// with a go-github client pointed at it.
func startSim(t *testing.T, opts forgesim.Options) (*forgesim.Sim, *github.Client) {
	t.Helper()
	if opts.LongPoll == 0 {
		opts.LongPoll = 2 * time.Second
	}
	opts.Logf = t.Logf
	s := forgesim.New(opts)
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, ghClient(t, s, "test-token")
}

func ghClient(t *testing.T, s *forgesim.Sim, token string) *github.Client {
	t.Helper()
	base := s.URL()
	c, err := github.NewClient(github.WithAuthToken(token), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mintJIT creates a repository JIT runner through go-github.
func mintJIT(t *testing.T, c *github.Client, repo, name string, labels ...string) *github.JITRunnerConfig {
	t.Helper()
	owner, r := splitRepo(repo)
	cfg, _, err := c.Actions.CreateRepoJITConfig(context.Background(), owner, r,
		github.CreateJITConfigRequest{Name: name, RunnerGroupID: 1, Labels: labels})
	if err != nil {
		t.Fatalf("mint JIT %s: %v", name, err)
	}
	return cfg
}

func splitRepo(repo string) (string, string) {
	owner, name, _ := strings.Cut(repo, "/")
	return owner, name
}

// rawCall makes a plain HTTP call to the sim and decodes a JSON answer into out.
func rawCall(t *testing.T, method, url, token string, body, out any) *http.Response {
	t.Helper()
	var sent []byte
	if body != nil {
		sent, _ = json.Marshal(body)
	}
	code, h, data := testutil.Request(t, method, url, testutil.Bearer(token), sent)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, data, err)
		}
	}
	return &http.Response{StatusCode: code, Header: h}
}

// runnerSession drives the sim's runner protocol by hand.
type runnerSession struct {
	t      *testing.T
	base   string
	secret string
}

func connect(t *testing.T, s *forgesim.Sim, encoded string) (*runnerSession, int) {
	t.Helper()
	p, err := forgesim.DecodeJIT(encoded)
	if err != nil {
		t.Fatal(err)
	}
	resp := rawCall(t, "POST", s.URL()+"_sim/runner/connect", "", map[string]string{"jit": encoded}, nil)
	return &runnerSession{t, s.URL(), p.Secret}, resp.StatusCode
}

func (r *runnerSession) poll() (int, forgesim.AssignedJob) {
	var j forgesim.AssignedJob
	resp := rawCall(r.t, "GET", r.base+"_sim/runner/job", r.secret, nil, &j)
	return resp.StatusCode, j
}

func (r *runnerSession) complete(jobID int64, conclusion string) int {
	return rawCall(r.t, "POST", r.base+"_sim/runner/complete", r.secret,
		forgesim.CompleteRequest{JobID: jobID, Conclusion: conclusion}, nil).StatusCode
}
