package bootstrap

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

func tarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

type manager struct {
	mu       sync.Mutex
	statuses []string
	fails    int // answer 503 this many times first
	unbound  int // then 204 (a warm machine waiting unbound) this many times
	tar      []byte
	sum      string
	srv      *httptest.Server
}

func newManager(t *testing.T, tar []byte, sum string) *manager {
	m := &manager{tar: tar, sum: sum}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /meta/runner", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		m.mu.Lock()
		if m.fails > 0 {
			m.fails--
			m.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if m.unbound > 0 {
			m.unbound--
			m.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		m.mu.Unlock()
		json.NewEncoder(w).Encode(machineapi.RunnerConfig{Name: "r1", JITConfig: "JIT-123",
			Tool: machineapi.RunnerTool{DownloadURL: m.srv.URL + "/runner.tar.gz", SHA256: m.sum, Filename: "runner.tar.gz"}})
	})
	mux.HandleFunc("GET /runner.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(m.tar) })
	mux.HandleFunc("POST /cb/status", func(w http.ResponseWriter, r *http.Request) {
		var rep machineapi.StatusReport
		json.NewDecoder(r.Body).Decode(&rep)
		st := rep.Status + ":" + rep.Message
		if rep.Ran != nil {
			st += fmt.Sprintf("[run %d/%d %s]", rep.Ran.RunID, rep.Ran.RunAttempt, rep.Ran.Repository)
		}
		m.mu.Lock()
		m.statuses = append(m.statuses, st)
		m.mu.Unlock()
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func (m *manager) opts(dir, token string) Options {
	return Options{MetadataURL: m.srv.URL + "/meta", CallbackURL: m.srv.URL + "/cb", Token: token, Dir: dir, Patience: 5 * time.Second}
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestBootRunsRunnerWithJITConfig(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\necho \"$@\" > args.txt\necho \"$ACTIONS_RUNNER_INPUT_JITCONFIG\" > env.txt\necho \"$PADDOCK_INSTANCE_TOKEN\" > tok.txt\n"})
	t.Setenv("PADDOCK_INSTANCE_TOKEN", "tok")
	m := newManager(t, tb, sum(tb))
	m.fails = 2 // the manager is briefly unavailable: the machine retries
	dir := t.TempDir()
	if err := Run(context.Background(), m.opts(dir, "tok")); err != nil {
		t.Fatal(err)
	}
	// The JIT config is in the runner's environment, never in its argv,
	// which every local user can read.
	args, _ := os.ReadFile(filepath.Join(dir, "runner", "args.txt"))
	env, _ := os.ReadFile(filepath.Join(dir, "runner", "env.txt"))
	if strings.TrimSpace(string(args)) != "" || strings.TrimSpace(string(env)) != "JIT-123" {
		t.Fatalf("runner args = %q, ACTIONS_RUNNER_INPUT_JITCONFIG = %q", args, env)
	}
	// Jobs inherit the runner's environment: the instance token is not in it.
	if tok, _ := os.ReadFile(filepath.Join(dir, "runner", "tok.txt")); strings.TrimSpace(string(tok)) != "" {
		t.Fatalf("runner environment holds the instance token %q", tok)
	}
	// The runner's exit is reported, so the manager can retire the machine at once.
	if got := strings.Join(m.statuses, ","); got != "installing:,idle:,done:exit status 0" {
		t.Fatalf("statuses = %s", got)
	}
}

func TestTamperedRunnerPackageIsRefused(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\ntouch ran\n"})
	m := newManager(t, tb, sum([]byte("something else")))
	dir := t.TempDir()
	err := Run(context.Background(), m.opts(dir, "tok"))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "runner", "ran")); err == nil {
		t.Fatal("a tampered runner ran")
	}
	if len(m.statuses) != 2 || !strings.HasPrefix(m.statuses[1], "failed:") {
		t.Fatalf("statuses = %v", m.statuses)
	}
}

func TestArchiveEscapingTargetIsRefused(t *testing.T) {
	tb := tarball(t, map[string]string{"../../evil.sh": "x", "run.sh": "#!/bin/sh\n"})
	dir := t.TempDir()
	// Clean("/"+name) keeps an escaping entry inside the root; make sure it landed there.
	if err := untar(bytes.NewReader(tb), filepath.Join(dir, "root")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "evil.sh")); err == nil {
		t.Fatal("archive wrote outside its directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "root", "evil.sh")); err != nil {
		t.Fatal("entry not confined to the target directory")
	}
}

func TestBadTokenFailsFast(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\n"})
	m := newManager(t, tb, sum(tb))
	start := time.Now()
	err := Run(context.Background(), m.opts(t.TempDir(), "wrong"))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %s; want a fast failure", err, time.Since(start))
	}
	if err := Run(context.Background(), Options{}); err == nil {
		t.Fatal("missing settings accepted")
	}
}

// A warm machine waiting unbound is answered 204 at the end of each
// long-poll: it asks again at once, however long that takes, and runs the
// runner once it gets its config.
func TestUnboundMachineAsksAgain(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\necho \"$ACTIONS_RUNNER_INPUT_JITCONFIG\" > env.txt\n"})
	m := newManager(t, tb, sum(tb))
	m.unbound = 5
	dir := t.TempDir()
	o := m.opts(dir, "tok")
	o.Patience = time.Nanosecond // waiting for a job is not a failure to be patient with
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if env, _ := os.ReadFile(filepath.Join(dir, "runner", "env.txt")); strings.TrimSpace(string(env)) != "JIT-123" {
		t.Fatalf("runner got %q, want the config handed after the waits", env)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unbound != 0 {
		t.Fatalf("%d 204 answers left: the machine stopped asking", m.unbound)
	}
}
