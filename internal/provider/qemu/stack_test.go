package qemu_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// fakePAT is the forge credential; no VM may ever be handed it.
const fakePAT = "ghp_fakePATthatMustNeverReachAVM0123456789"

const stackRepo = "vm/app"

// stack is a forge simulator plus an in-process manager whose pool runs on
// the qemu provider.
type stack struct {
	t        *testing.T
	sim      *forgesim.Sim
	app      *app.App
	stateDir string
	stop     func()
}

type stackOpts struct {
	maxRunners       int
	bootstrapTimeout time.Duration
	relay            []string  // default: the test paddock's qemu-relay
	arch             string    // the pool's arch: x64 (default) or arm64
	image            string    // the pool's image; default the fast image
	logs             io.Writer // also gets the manager's log
}

func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t, "http://"+l.Addr().String()+"/webhooks/github")
	doc := stackYAML(l.Addr().String(), dir, sim, o)
	cfg, err := config.Parse([]byte(doc), "test.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	logw := io.Writer(io.Discard)
	if testing.Verbose() {
		logw = os.Stderr
	}
	if o.logs != nil {
		logw = io.MultiWriter(logw, o.logs)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Listener: l,
		Logger: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	s := &stack{t: t, sim: sim, app: a, stateDir: dir, stop: func() { cancel(); <-done }}
	t.Cleanup(func() {
		s.stop()
		// Whatever the outcome, leave no VM behind.
		p := a.Providers["vm"]
		if ms, err := p.List(context.Background()); err == nil {
			for _, m := range ms {
				p.Delete(context.Background(), m.Name)
			}
		}
		if t.Failed() {
			s.dumpConsoles()
		}
	})
	return s
}

// startSim starts a forge simulator whose runners, inside VMs, reach it
// through the provider's forward of its port.
func startSim(t *testing.T, hookURL string) *forgesim.Sim {
	t.Helper()
	sim := forgesim.New(forgesim.Options{WebhookURL: hookURL, WebhookSecret: "hook-secret",
		RunnerBinaries: simRunners, Seed: 3})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	guestSim, err := qemu.GuestURL(sim.URL())
	if err != nil {
		t.Fatal(err)
	}
	sim.SetMachineURL(guestSim)
	return sim
}

// stackYAML is the manager's config: one qemu provider, one pool.
func stackYAML(listen, dir string, sim *forgesim.Sim, o stackOpts) string {
	relay := o.relay
	if relay == nil {
		relay = []string{paddockBin, "qemu-relay"}
	}
	quoted := make([]string, len(relay))
	for i, w := range relay {
		quoted[i] = fmt.Sprintf("%q", w)
	}
	simHost := strings.TrimSuffix(strings.TrimPrefix(sim.URL(), "http://"), "/")
	arch := o.arch
	if arch == "" {
		arch = "x64"
	}
	return fmt.Sprintf(`
server: {listen: %s, admin_token: admin-token-for-tests-0123456789abcdef}
store: {path: %s, encryption_key: %s}
state_dir: %s
controller: {reconcile_interval: 5s, idle_grace: 5s}
providers:
  - name: vm
    type: qemu
    max_parallel: 4
    qemu: {image_dir: %s, accel: tcg, relay_command: [%s], forward: [%q]}
forges:
  - name: sim
    kind: github
    api_url: %s
    web_url: %s
    webhook_secret: hook-secret
    credential: {kind: pat, token: %s}
entities:
  - {forge: sim, kind: repository, name: %s, intake: webhook}
pools:
  - {name: vms, entity: %s, provider: vm, labels: [linux, %s], arch: %s, max_runners: %d, min_idle: 0, bootstrap_timeout: %s%s}
`, listen, filepath.Join(dir, "paddock.db"), "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd",
		dir, imageDir, strings.Join(quoted, ", "), simHost, sim.URL(), sim.URL(), fakePAT, stackRepo, stackRepo, arch, arch, o.maxRunners, o.bootstrapTimeout, poolImage(o.image))
}

func poolImage(img string) string {
	if img == "" {
		return ""
	}
	return fmt.Sprintf(", image: %q", img)
}

func (s *stack) vmDir() string { return filepath.Join(s.stateDir, "vms", "vm") }

func (s *stack) vms() []string {
	entries, _ := os.ReadDir(s.vmDir())
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func (s *stack) dumpConsoles() {
	logs, _ := filepath.Glob(filepath.Join(s.vmDir(), "*", "console.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		s.t.Logf("%s:\n%s", l, b)
	}
}

func (s *stack) queue(name, command string) forgesim.Job {
	s.t.Helper()
	j, err := s.sim.QueueJob(forgesim.JobSpec{Repo: stackRepo, Labels: []string{"self-hosted", "linux"}, Name: name, Command: command})
	if err != nil {
		s.t.Fatal(err)
	}
	return j
}

func (s *stack) job(id int64) forgesim.Job {
	for _, j := range s.sim.Jobs() {
		if j.ID == id {
			return j
		}
	}
	s.t.Fatalf("job %d not found", id)
	return forgesim.Job{}
}

// waitClean waits until every VM is gone: no QEMU process, no instance
// directory, no runner registered at the forge.
func (s *stack) waitClean(limit time.Duration) {
	s.t.Helper()
	waitFor(s.t, "every VM, its files and its runner to be gone", limit, func() bool {
		return len(qemuPIDs(s.stateDir)) == 0 && len(s.vms()) == 0 && len(s.sim.Runners()) == 0
	})
}
