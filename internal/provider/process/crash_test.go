package process

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
)

// A manager killed while deleting a machine can leave its directory without
// the state file (RemoveAll had got that far), and one killed while creating
// can leave it before the state file is written. The restarted manager
// deletes the instance again: that must remove the directory, not read the
// missing state file as "already gone" and leak it (seen in e2e
// TestKill9DuringBurst). Another controller's machine stays untouched.
func TestDeleteRemovesDirectoryLeftWithoutStateFile(t *testing.T) {
	dir := t.TempDir()
	p, other := newP(t, dir, "c1"), newP(t, dir, "c2")
	ctx := context.Background()
	for _, c := range []struct {
		p    *Provider
		name string
	}{{p, "half-deleted"}, {other, "theirs"}} {
		if _, err := c.p.Create(ctx, provider.Spec{Name: c.name, PoolID: "pool"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.p.Delete(ctx, c.name) })
	}
	// What the interrupted delete left: the process stopped and the state
	// file removed, the log and work directory still there.
	rec, err := p.Read("half-deleted")
	if err != nil {
		t.Fatal(err)
	}
	killGroup(rec.PID)
	if err := os.Remove(filepath.Join(dir, "half-deleted", "machine.json")); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, "half-deleted"); err != nil {
		t.Fatalf("delete again after the crash: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "half-deleted")); !os.IsNotExist(err) {
		t.Fatalf("directory of the half-deleted machine still there (%v): leaked", err)
	}
	if err := p.Delete(ctx, "theirs"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "theirs"); err != nil {
		t.Fatalf("another controller's machine was touched: %v", err)
	}
}

// A manager killed right after starting a machine's process may leave it
// before it reported itself (the launch shell is still starting). Delete's
// claim of the pidfile makes that process exit before it runs the bootstrap;
// one that reported first is found with its identity.
func TestClaimBeforeAndAfterTheProcessReports(t *testing.T) {
	dir := t.TempDir()
	pidPath := filepath.Join(dir, pidFile)
	marker := filepath.Join(dir, "ran")
	if pid, _, err := claim(context.Background(), dir); err != nil || pid != 0 {
		t.Fatalf("claim of an unwritten pidfile = %d, %v", pid, err)
	}
	late := exec.Command("/bin/sh", "-c", launch, pidPath, "/bin/sh", "-c", "echo > "+marker)
	var exit *exec.ExitError
	if err := late.Run(); !errors.As(err, &exit) || exit.ExitCode() != 97 {
		t.Fatalf("a process started before the claim ran on: %v", err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("the bootstrap ran after Delete had claimed its pidfile")
	}

	os.Remove(pidPath)
	early := exec.Command("/bin/sh", "-c", launch, pidPath, "/bin/sleep", "60")
	if err := early.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = early.Process.Kill(); _ = early.Wait() })
	if st, _, _ := waitReport(context.Background(), pidPath, nil); st != pidReported {
		t.Fatalf("the process never reported itself: %v", st)
	}
	pid, ticks, err := claim(context.Background(), dir)
	if err != nil || pid != early.Process.Pid || ticks != startTicks(pid) {
		t.Fatalf("claim = %d %d %v; want the process %d started at %d", pid, ticks, err, early.Process.Pid, startTicks(early.Process.Pid))
	}
}

// A Create retried after a crash between writing the record and starting
// the process starts the machine (there was none to adopt).
func TestRetriedCreateStartsWhatACrashNeverStarted(t *testing.T) {
	dir := t.TempDir()
	p := newP(t, dir, "c1")
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(dir, "m-1", "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := p.reg.Write("m-1", record{Header: p.reg.NewHeader(provider.Spec{Name: "m-1", PoolID: "pool"})}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, provider.Spec{Name: "m-1", PoolID: "pool"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete(ctx, "m-1") })
	rec, err := p.Read("m-1")
	if err != nil || !p.alive(rec) {
		t.Fatalf("record after the retried create = %+v, %v; want a running process", rec, err)
	}
}
