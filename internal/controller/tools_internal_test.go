package controller

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// slowList is a forge whose download list answers when released, or fails
// when the caller's context ends. Only RunnerDownloads is called.
type slowList struct {
	forge.Client
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (s *slowList) RunnerDownloads(ctx context.Context, _ core.Entity) ([]forge.RunnerTool, error) {
	if s.calls.Add(1) == 1 {
		close(s.started)
	}
	select {
	case <-s.release:
		return []forge.RunnerTool{{OS: "win", Architecture: "x64", Filename: "actions-runner-win-x64.zip"}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestDownloadListSurvivesTheFirstMachineGivingUp: the machine whose
// request started the shared list call stops waiting; the call goes on for
// the others, and the forge is asked once.
func TestDownloadListSurvivesTheFirstMachineGivingUp(t *testing.T) {
	tc := newToolCache()
	f := &slowList{started: make(chan struct{}), release: make(chan struct{})}
	ent := core.Entity{ID: "e1", ForgeID: "f1"}
	first, giveUp := context.WithCancel(context.Background())
	go func() { _, _ = tc.pick(first, f, ent, "windows", "x64") }()
	<-f.started
	giveUp()
	done := make(chan error, 1)
	go func() {
		tool, err := tc.pick(context.Background(), f, ent, "windows", "x64")
		if err == nil && tool.Filename != "actions-runner-win-x64.zip" {
			t.Errorf("picked %+v", tool)
		}
		done <- err
	}()
	close(f.release)
	if err := <-done; err != nil {
		t.Fatalf("second machine: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d list calls, want 1", n)
	}
}
