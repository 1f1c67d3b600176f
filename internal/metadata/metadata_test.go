package metadata_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// machines answers like the controller does for one instance whose token is "good".
type machines struct {
	fetched bool
	ran     []string
}

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

func (m *machines) ReportRan(_ context.Context, tok string, st core.RunnerState, _ string, ran *machineapi.RanJob) error {
	if tok != "good" {
		return machineapi.ErrBadToken
	}
	m.ran = append(m.ran, string(st)+" "+fmt.Sprint(*ran))
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
	m := &machines{}
	(&metadata.Handler{Machines: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
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
		// The run a done runner's job was in: checked before the planner sees it.
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"done","ran":{"run_id":77,"run_attempt":1,"repository":"acme/app"}}`, 200},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"done","ran":{"run_id":-1}}`, 400},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"done","ran":{"run_id":7,"repository":"../../etc"}}`, 400},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"done","ran":{"run_id":7,"run_attempt":-3}}`, 400},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"idle","ran":{"run_id":7}}`, 400},
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"active"}`, 400}, // active names its run
		{"POST", "/api/v1/callbacks/status", "good", `{"status":"active","ran":{"run_id":78,"repository":"acme/app"}}`, 200},
		{"POST", "/api/v1/callbacks/status", "forged", `{"status":"done","ran":{"run_id":7}}`, 401},
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
	if want := []string{"done {77 1 acme/app}", "active {78 0 acme/app}"}; !reflect.DeepEqual(m.ran, want) {
		t.Errorf("runs handed on = %+v, want %+v (only the valid report)", m.ran, want)
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
