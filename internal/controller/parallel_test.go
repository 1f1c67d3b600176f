package controller_test

import (
	"context"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/provider"
)

// gatedProvider holds every Create until the test releases it, and records
// how many ran at once.
type gatedProvider struct {
	release chan struct{}

	mu       sync.Mutex
	inflight int
	peak     int
	done     int
}

func (p *gatedProvider) Create(ctx context.Context, s provider.Spec) (provider.Machine, error) {
	p.mu.Lock()
	p.inflight++
	p.peak = max(p.peak, p.inflight)
	p.mu.Unlock()
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.inflight--
	p.done++
	p.mu.Unlock()
	return provider.Machine{ProviderID: s.Name, Name: s.Name, Status: provider.StatusRunning}, nil
}
func (p *gatedProvider) Delete(context.Context, string) error { return nil }
func (p *gatedProvider) Get(_ context.Context, name string) (provider.Machine, error) {
	return provider.Machine{Name: name, Status: provider.StatusRunning}, nil
}
func (p *gatedProvider) List(context.Context) ([]provider.Machine, error) { return nil, nil }

func (p *gatedProvider) state() (inflight, peak, done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inflight, p.peak, p.done
}

// Each provider gets its own max_parallel, not the largest of them.
func TestMaxParallelPerProvider(t *testing.T) {
	narrow := &gatedProvider{release: make(chan struct{})}
	wide := &gatedProvider{release: make(chan struct{})}
	h := newHarness(t, nil, func(o *controller.Options) {
		o.Providers["narrow"], o.Providers["wide"] = narrow, wide
		o.ProviderMaxParallel = map[string]int{"narrow": 1, "wide": 3}
	})
	for _, prov := range []string{"narrow", "wide"} {
		p := pool(prov, "linux")
		p.EntityID, p.Provider, p.Enabled, p.MinIdle = h.entity.ID, prov, true, 3
		if err := h.st.CreatePool(h.ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	h.ctl.Notify()
	h.eventually("three creates in flight on the wide provider", func() bool {
		n, _, _ := wide.state()
		return n == 3
	})
	h.eventually("a create in flight on the narrow provider", func() bool {
		n, _, _ := narrow.state()
		return n == 1
	})
	for range 3 {
		wide.release <- struct{}{}
	}
	for range 3 {
		narrow.release <- struct{}{}
	}
	h.eventually("all narrow creates done", func() bool {
		_, _, done := narrow.state()
		return done == 3
	})
	if _, peak, _ := narrow.state(); peak != 1 {
		t.Fatalf("narrow provider (max_parallel 1) ran %d creates at once", peak)
	}
}
