package metadata_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// machines answers like the controller does for one instance whose token is "good".
type machines struct{ fetched bool }

func (m *machines) RunnerConfigFor(_ context.Context, tok string) (machineapi.RunnerConfig, error) {
	switch {
	case tok == "gone":
		return machineapi.RunnerConfig{}, machineapi.ErrInstanceGone
	case tok == "waiting":
		return machineapi.RunnerConfig{}, machineapi.ErrNotBound
	case tok == "flaky":
		return machineapi.RunnerConfig{}, context.DeadlineExceeded
	case tok != "good":
		return machineapi.RunnerConfig{}, machineapi.ErrBadToken
	case m.fetched:
		return machineapi.RunnerConfig{}, machineapi.ErrTokenUsed
	}
	m.fetched = true
	return machineapi.RunnerConfig{Name: "r", JITConfig: "jit"}, nil
}

func (m *machines) Report(_ context.Context, tok string, st core.RunnerState, _ string) error {
	if tok != "good" {
		return machineapi.ErrBadToken
	}
	if st != core.RunnerIdle && st != core.RunnerInstalling && st != core.RunnerFailed {
		return machineapi.ErrBadStatus
	}
	return nil
}

func do(t *testing.T, srv *httptest.Server, method, path, tok, body string) (int, string) {
	t.Helper()
	code, h, b := testutil.Request(t, method, srv.URL+path, testutil.Bearer(tok), []byte(body))
	if cc := h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: Cache-Control %q; runner configs must never be cached", method, path, cc)
	}
	return code, string(b)
}

func TestMachineEndpoints(t *testing.T) {
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: &machines{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cases := []struct {
		method, path, tok, body string
		code                    int
	}{
		{"GET", "/api/v1/metadata/runner", "", "", 401},
		{"GET", "/api/v1/metadata/runner", "forged", "", 401},
		{"GET", "/api/v1/metadata/runner", "good", "", 200},
		{"GET", "/api/v1/metadata/runner", "good", "", 401}, // works once
		{"GET", "/api/v1/metadata/runner", "gone", "", 410},
		{"GET", "/api/v1/metadata/runner", "flaky", "", 503}, // forge trouble: retry
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"idle"}`, 200},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"active"}`, 400},
		{"POST", "/api/v1/callbacks/status", "good", `{not json`, 400},
		{"POST", "/api/v1/callbacks/status", "forged", `{"status":"idle"}`, 401},
	}
	for _, c := range cases {
		code, body := do(t, srv, c.method, c.path, c.tok, c.body)
		if code != c.code {
			t.Errorf("%s %s token=%q body=%s: got %d %s, want %d", c.method, c.path, c.tok, c.body, code, body, c.code)
		}
		if code == 200 && c.method == "GET" {
			var cfg machineapi.RunnerConfig
			if err := json.Unmarshal([]byte(body), &cfg); err != nil || cfg.JITConfig != "jit" {
				t.Errorf("runner config = %s", body)
			}
		}
	}
}

// A warm machine still waiting unbound when its long-poll ends gets 204 (ask
// again), never an error that would make it give up.
func TestUnboundMachineGetsNoContent(t *testing.T) {
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: &machines{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if code, body := do(t, srv, "GET", "/api/v1/metadata/runner", "waiting", ""); code != http.StatusNoContent || body != "" {
		t.Fatalf("waiting machine: %d %q, want 204 and no body", code, body)
	}
}
