package lxd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
)

var (
	buildOnce sync.Once
	binPath   string
	binErr    error
)

// paddockBinary builds a static paddock once; containers run it (mounted
// read-only at the same path) as the simulated runner.
func paddockBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-lxd-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "paddock")
		cmd := exec.Command("go", "build", "-o", binPath, "../../../cmd/paddock")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build paddock: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// counting counts the provider's Create calls.
type counting struct {
	provider.Provider
	creates atomic.Int32
}

func (c *counting) Create(ctx context.Context, s provider.Spec) (provider.Machine, error) {
	c.creates.Add(1)
	return c.Provider.Create(ctx, s)
}

// stack is a forge simulator and an in-process manager whose one pool runs
// on the lxd provider, in a project of its own, through a socket link the
// test may remove (the daemon "going away") and put back.
type stack struct {
	t    *testing.T
	sim  *forgesim.Sim
	app  *app.App
	prov *counting
	link string
	proj string
	stop func()
}

const stackRepo = "lxd/app"

func newStack(t *testing.T, poolImage string) *stack {
	t.Helper()
	d := needLXD(t)
	bin := paddockBinary(t)
	s := &stack{t: t, proj: project(t, d)}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	profile := "pdk-t-" + hex.EncodeToString(b)
	if err := d.CreateProfile(context.Background(), profile, "paddock test: the paddock binary",
		map[string]map[string]string{"paddock-bin": {"type": "disk", "source": bin, "path": bin, "readonly": "true"}}); err != nil {
		t.Fatal(err)
	}
	// Registered before the project's cleanup runs (cleanups run last
	// first), so the profile goes once its containers have.
	t.Cleanup(func() {
		if err := d.DeleteProfile(context.Background(), profile); err != nil {
			t.Errorf("delete profile %s: %v", profile, err)
		}
	})
	dir := t.TempDir()
	s.link = filepath.Join(dir, "lxd.socket")
	if err := os.Symlink(socket, s.link); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.sim = forgesim.New(forgesim.Options{WebhookURL: "http://" + l.Addr().String() + "/webhooks/github",
		WebhookSecret: "hook-secret", RunnerCommand: []string{bin, "agent"}, Seed: 5})
	if err := s.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.sim.Close)
	simHost := strings.TrimSuffix(strings.TrimPrefix(s.sim.URL(), "http://"), "/")
	doc := fmt.Sprintf(`
server: {listen: %s, admin_token: admin-token-for-tests-0123456789abcdef}
store: {path: %s, encryption_key: ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd}
state_dir: %s
controller: {reconcile_interval: 5s, idle_grace: 2s}
providers:
  - name: lxd
    type: lxd
    max_parallel: 4
    lxd: {socket: %q, project: %s, image: %s, network: %s, storage_pool: %s, profiles: [%s], forward: [%q]}
forges:
  - {name: sim, kind: github, api_url: %s, web_url: %s, webhook_secret: hook-secret, credential: {kind: pat, token: not-a-real-pat}}
entities:
  - {forge: sim, kind: repository, name: %s, intake: webhook}
pools:
  - {name: cts, entity: %s, provider: lxd, image: %s, labels: [linux, x64], max_runners: 2, bootstrap_timeout: 3m}
`, l.Addr(), filepath.Join(dir, "paddock.db"), dir, s.link, s.proj, image, network, pool, profile, simHost,
		s.sim.URL(), s.sim.URL(), stackRepo, stackRepo, poolImage)
	cfg, err := config.Parse([]byte(doc), "test.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	o := options(s.proj, "pdk-test-controller")
	o.Socket, o.Forward, o.Profiles = s.link, []string{simHost}, []string{profile}
	p, err := lxd.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s.prov = &counting{Provider: p}
	logw := io.Writer(io.Discard)
	if testing.Verbose() {
		logw = os.Stderr
	}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: l, ProviderOverrides: map[string]provider.Provider{"lxd": s.prov},
		Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	s.app = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	s.stop = func() { cancel(); <-done }
	t.Cleanup(s.stop)
	return s
}

func (s *stack) queue(name, command string) forgesim.Job {
	s.t.Helper()
	j, err := s.sim.QueueJob(forgesim.JobSpec{Repo: stackRepo, Labels: []string{"self-hosted", "linux"}, Name: name, Command: command})
	if err != nil {
		s.t.Fatal(err)
	}
	return j
}

func (s *stack) health() (h struct {
	failing bool
	n       int
	last    string
	next    time.Time
}) {
	for _, ph := range s.app.Controller.PoolHealth() {
		h.failing, h.n, h.last, h.next = ph.Failing(), ph.Failures, ph.LastError, ph.NextCreateAt
	}
	return h
}

func (s *stack) instances() []core.Instance {
	all, _ := s.app.Store.ListInstances(context.Background(), store.InstanceFilter{})
	return all
}

func (s *stack) completed() int {
	n := 0
	for _, j := range s.sim.Jobs() {
		if j.Status == forgesim.StatusCompleted && j.Conclusion == forgesim.ConclusionSuccess {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, what, limit, cond)
}
