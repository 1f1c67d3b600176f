package controller_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// mintLog records what each JITConfig call was told, and fails the first.
type mintLog struct {
	forge.Client
	mu    sync.Mutex
	first []bool
}

func (f *mintLog) JITConfig(ctx context.Context, ent core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	f.mu.Lock()
	f.first = append(f.first, req.FirstAttempt)
	n := len(f.first)
	f.mu.Unlock()
	if n == 1 {
		return forge.JITConfig{}, errors.New("forge hiccup")
	}
	return f.Client.JITConfig(ctx, ent, req)
}

// Only an instance's first mint is marked FirstAttempt (adapters then skip
// looking for an earlier registration of its name); the retry after a failed
// mint is not, since that attempt may have registered a runner.
func TestOnlyTheFirstMintIsMarkedFirst(t *testing.T) {
	log := &mintLog{}
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) {
		log.Client = o.Forges.(simForges).c
		o.Forges = simForges{log}
	})
	h.event("queued", 41, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	spec, _ := h.prov.spec(h.instances(core.InstanceRunning)[0].Name)
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err == nil {
		t.Fatal("the first mint should have failed")
	}
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatalf("retry: %v", err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.first) != 2 || !log.first[0] || log.first[1] {
		t.Fatalf("FirstAttempt per mint = %v, want [true false]", log.first)
	}
}
