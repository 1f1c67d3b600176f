package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

const token = "cli-test-token"

type env struct {
	t   *testing.T
	url string
	st  store.Store

	mu      sync.Mutex
	deleted []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The developer's own settings must not leak into tests.
	t.Setenv("PADDOCK_URL", "")
	t.Setenv("PADDOCK_ADMIN_TOKEN", "")
	st := teststore.Open(t)
	e := &env{t: t, st: st}
	srv := httptest.NewServer(api.New(api.Options{Store: st, AdminToken: token,
		DeleteInstance: func(_ context.Context, name string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.deleted = append(e.deleted, name)
			return nil
		}}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// paddock runs the CLI against the test server and returns stdout, stderr and the exit code.
func (e *env) paddock(args ...string) (string, string, int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--server", e.url, "--token", token}, args...)
	code := run(NewRoot(), full, &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs the CLI and fails the test unless it exits 0.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.paddock(args...)
	if code != 0 {
		e.t.Fatalf("paddock %v: exit %d\nstderr: %s", args, code, errs)
	}
	return out
}

// fails runs the CLI, expects exit 1, and checks stderr mentions each of subs.
func (e *env) fails(args []string, subs ...string) {
	e.t.Helper()
	out, errs, code := e.paddock(args...)
	if code != 1 {
		e.t.Fatalf("paddock %v: exit %d, want 1\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	for _, s := range subs {
		if !strings.Contains(errs, s) {
			e.t.Errorf("paddock %v: stderr does not mention %q:\n%s", args, s, errs)
		}
	}
}

func (e *env) seed() {
	e.t.Helper()
	e.t.Setenv("GH_TOKEN", "ghp_CLISECRET")
	e.ok("forge", "create", "--name", "github", "--token-env", "GH_TOKEN")
	e.ok("entity", "create", "--forge", "github", "--name", "acme/app")
	e.ok("pool", "create", "--name", "linux", "--entity", "acme/app", "--provider", "local",
		"--labels", "linux,x64", "--max-runners", "10", "--min-idle", "1", "--bootstrap-timeout", "15m")
}

// header returns the column names of a table's first line.
func header(t *testing.T, out string) []string {
	t.Helper()
	first, _, _ := strings.Cut(out, "\n")
	return strings.Fields(first)
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, s)
	}
	return v
}

func TestNewRootAddsExtraCommands(t *testing.T) {
	root := NewRoot(&cobra.Command{Use: "serve", Run: func(*cobra.Command, []string) {}})
	for _, name := range []string{"serve", "forge", "entity", "pool", "instance", "job"} {
		if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("command %q missing", name)
		}
	}
}
