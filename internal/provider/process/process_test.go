package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/localmachine"
)

// script is the "bootstrap" these tests run: it records its environment,
// starts a child (like a runner would) and waits.
const script = `env > env.txt; sleep 60 & echo $! > child.pid; wait`

func newP(t *testing.T, dir, id string) *Provider {
	t.Helper()
	p, err := New(Options{StateDir: dir, ControllerID: id, Command: []string{"/bin/sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !localmachine.Zombie(pid) }

// The machine's environment is only its own settings, and Delete kills its
// children too. (Idempotence, listing and restarts: TestConformance.)
func TestIsolatedEnvironmentAndDeleteKillsChildren(t *testing.T) {
	t.Setenv("PADDOCK_ADMIN_TOKEN", "must-not-leak")
	dir := t.TempDir()
	p := newP(t, dir, "c1")
	ctx := context.Background()
	spec := provider.Spec{Name: "m-1", PoolID: "pool", MetadataURL: "http://m", CallbackURL: "http://c", Token: "tok"}
	if m, err := p.Create(ctx, spec); err != nil || m.Status != provider.StatusRunning {
		t.Fatalf("create: %+v %v", m, err)
	}
	env := waitFile(t, filepath.Join(dir, "m-1", "work", "env.txt"))
	if strings.Contains(env, "must-not-leak") {
		t.Fatal("manager environment leaked into the machine")
	}
	for _, want := range []string{"PADDOCK_INSTANCE_TOKEN=tok", "PADDOCK_METADATA_URL=http://m", "PADDOCK_INSTANCE_NAME=m-1"} {
		if !strings.Contains(env, want) {
			t.Errorf("machine env lacks %s", want)
		}
	}
	var child int
	if _, err := fmtSscan(waitFile(t, filepath.Join(dir, "m-1", "work", "child.pid")), &child); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "m-1"); err != nil {
		t.Fatal(err)
	}
	// SIGKILL is delivered asynchronously: give the kernel a moment to tear
	// the child down (and init to reap it).
	for deadline := time.Now().Add(3 * time.Second); alive(child) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(child) {
		t.Fatal("the machine's child process survived Delete")
	}
	if _, err := os.Stat(filepath.Join(dir, "m-1")); !os.IsNotExist(err) {
		t.Fatal("machine directory not removed")
	}
}

func TestExitedMachineIsReportedStopped(t *testing.T) {
	dir := t.TempDir()
	p, _ := New(Options{StateDir: dir, ControllerID: "c", Command: []string{"/bin/true"}})
	ctx := context.Background()
	if _, err := p.Create(ctx, provider.Spec{Name: "quick"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := p.Get(ctx, "quick")
		if err == nil && m.Status == provider.StatusStopped {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("exited machine still reported running")
}

func TestBadInput(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("empty options accepted")
	}
	p := newP(t, t.TempDir(), "c")
	for _, name := range []string{"", "../x", "a/b", "..", "a b", strings.Repeat("a", 64)} {
		if _, err := p.Create(context.Background(), provider.Spec{Name: name}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

func fmtSscan(s string, pid *int) (int, error) {
	return fmt.Sscan(strings.TrimSpace(s), pid)
}
