package controller_test

import (
	"context"
	"errors"
	"testing"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// slowForge plays a forge that is slow to mint: while held, JITConfig
// answers only when its caller gives up.
type slowForge struct {
	forge.Client
	entered chan struct{}
	held    chan bool // receives whether the next JITConfig hangs
}

func (f *slowForge) JITConfig(ctx context.Context, ent core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	if <-f.held {
		close(f.entered)
		<-ctx.Done()
		return forge.JITConfig{}, ctx.Err()
	}
	return f.Client.JITConfig(ctx, ent, req)
}

// A machine whose config fetch is cut off while the forge is slow must be
// able to fetch again: the failed attempt gives its token back even though
// the request's context is gone.
func TestInterruptedConfigFetchGivesTokenBack(t *testing.T) {
	slow := &slowForge{entered: make(chan struct{}), held: make(chan bool, 2)}
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) {
		slow.Client = o.Forges.(simForges).c
		o.Forges = simForges{slow}
	})
	h.event("queued", 40, []string{"linux"}, "")
	h.eventually("machine", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	spec, _ := h.prov.spec(h.instances(core.InstanceRunning)[0].Name)

	slow.held <- true
	rctx, cancel := context.WithCancel(h.ctx)
	errc := make(chan error, 1)
	go func() { _, err := h.ctl.RunnerConfigFor(rctx, spec.Token); errc <- err }()
	<-slow.entered
	cancel() // the machine's HTTP request is gone
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fetch: %v, want context.Canceled", err)
	}
	slow.held <- false
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		t.Fatalf("retry after an interrupted fetch: %v (token burnt)", err)
	}
	if cfg.JITConfig == "" {
		t.Fatal("retry returned no runner config")
	}
}

// cancelAfterMint answers a mint and then plays the machine giving up
// before the answer reaches it.
type cancelAfterMint struct {
	forge.Client
	cancel context.CancelFunc
}

func (f *cancelAfterMint) JITConfig(ctx context.Context, ent core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	cfg, err := f.Client.JITConfig(ctx, ent, req)
	if f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
	return cfg, err
}

// A config minted for a machine that stopped waiting never reaches it: the
// registration is dropped and the token given back, so the retry works.
func TestConfigMintedForAGoneRequestIsDropped(t *testing.T) {
	cm := &cancelAfterMint{}
	h := newHarness(t, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) {
		cm.Client = o.Forges.(simForges).c
		o.Forges = simForges{cm}
	})
	h.event("queued", 41, []string{"linux"}, "")
	name := h.oneRunning().Name
	spec, _ := h.prov.spec(name)
	rctx, cancel := context.WithCancel(h.ctx)
	cm.cancel = cancel
	if _, err := h.ctl.RunnerConfigFor(rctx, spec.Token); !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch whose request went away: %v, want context.Canceled", err)
	}
	if _, ok := h.simRunner(name); ok {
		t.Fatal("the registration minted for the gone request is still at the forge")
	}
	if _, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if _, ok := h.simRunner(name); !ok {
		t.Fatal("retry registered no runner")
	}
}
