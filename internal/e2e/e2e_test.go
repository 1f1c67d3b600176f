// Package e2e runs the real paddock binary as a separate process against the
// GitHub simulator over real HTTP, and checks what users care about after
// crashes: every job served, nothing leaked, nothing duplicated.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paddock-e2e-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "paddock")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/paddock").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build paddock: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// manager is one `paddock serve` process.
type manager struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	// exited closes when the process has ended (and been waited for).
	exited chan struct{}
}

type env struct {
	t        *testing.T
	dir      string
	addr     string
	sim      *forgesim.Sim
	cfg      string
	token    string
	environ  []string
	managers []*manager
	// wrap, if set, is the command (and arguments) paddock serve runs under.
	wrap []string
}

const repo = "crash/app"

func newEnv(t *testing.T, maxRunners int) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), addr: freePort(t), token: "admin-token-for-e2e-" + fmt.Sprint(time.Now().UnixNano())}
	e.sim = forgesim.New(forgesim.Options{WebhookURL: "http://" + e.addr + "/webhooks/github", WebhookSecret: "hook-secret",
		RunnerCommand: []string{binary, "agent"}, Seed: 7})
	if err := e.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.sim.Close)
	e.cfg = filepath.Join(e.dir, "paddock.yaml")
	cfg := fmt.Sprintf(`server:
  listen: %s
  admin_token: env:E2E_ADMIN_TOKEN
store:
  path: paddock.db
  encryption_key: env:E2E_KEY
state_dir: state
controller:
  reconcile_interval: 5s
  poll_interval: 5s
  idle_grace: 2s
providers:
  - {name: local, type: process, max_parallel: 8}
forges:
  - name: sim
    kind: github
    api_url: %s
    web_url: %s
    webhook_secret: env:E2E_HOOK
    credential: {kind: pat, token: env:E2E_PAT}
entities:
  - {forge: sim, kind: repository, name: %s}
pools:
  - {name: linux, entity: %s, provider: local, labels: [linux, x64], max_runners: %d, bootstrap_timeout: 1m}
`, e.addr, e.sim.URL(), e.sim.URL(), repo, repo, maxRunners)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.environ = append(os.Environ(), "E2E_ADMIN_TOKEN="+e.token, "E2E_KEY="+strings.Repeat("ab", 32),
		"E2E_HOOK=hook-secret", "E2E_PAT=not-a-real-pat")
	t.Cleanup(func() {
		for _, m := range e.managers {
			m.cmd.Process.Kill()
			<-m.exited
		}
		// Whatever the test's outcome, leave no machine processes behind.
		exec.Command("pkill", "-KILL", "-f", binary).Run()
		if t.Failed() {
			for i, m := range e.managers {
				t.Logf("manager %d log (tail):\n%s", i, tail(m.log.String(), 4000))
			}
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (e *env) start() *manager {
	e.t.Helper()
	m := &manager{t: e.t, addr: e.addr, log: &bytes.Buffer{}}
	args := append(append([]string{}, e.wrap...), binary, "serve", "-c", e.cfg)
	m.cmd = exec.Command(args[0], args[1:]...)
	m.cmd.Env = e.environ
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.managers = append(e.managers, m)
	exited := make(chan struct{})
	go func() { m.cmd.Wait(); close(exited) }()
	m.exited = exited
	e.waitFor("manager healthy", 20*time.Second, func() bool {
		select {
		case <-exited:
			e.t.Fatalf("paddock serve exited: %s", m.log.String())
		default:
		}
		resp, err := http.Get("http://" + e.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return m
}

func (m *manager) kill9() {
	m.t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		m.t.Fatal(err)
	}
	<-m.exited
}

func (e *env) waitFor(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	testutil.Eventually(e.t, what, limit, cond)
}

func (e *env) api(method, path string, body any, out any) int {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, "http://"+e.addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (e *env) completed() int {
	n := 0
	for _, j := range e.sim.Jobs() {
		if j.Status == forgesim.StatusCompleted {
			n++
		}
	}
	return n
}

// machines lists the process provider's machine directories.
func (e *env) machines() []string {
	entries, _ := os.ReadDir(filepath.Join(e.dir, "state", "machines", "local"))
	var out []string
	for _, en := range entries {
		out = append(out, en.Name())
	}
	return out
}
