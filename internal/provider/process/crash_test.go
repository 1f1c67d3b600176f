package process

import (
	"context"
	"os"
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
