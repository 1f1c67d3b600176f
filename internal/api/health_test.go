package api

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/scheduler"
)

// A pool whose creates keep failing says so, and why, in the pool views.
func TestPoolViewShowsFailingPool(t *testing.T) {
	var health map[string]scheduler.PoolHealth
	h := newHarness(t, func(o *Options) {
		o.Providers = []string{"local", "qemu"}
		o.PoolHealth = func() map[string]scheduler.PoolHealth { return health }
	})
	h.seed()
	next := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	health = map[string]scheduler.PoolHealth{h.pool("linux").ID: {Failures: 4, NextCreateAt: next,
		LastError: `lxd: profile "paddock" not found`, Since: next.Add(-time.Minute)}}
	var list []PoolView
	h.must(200, "GET", "/api/v1/pools", nil, &list)
	if len(list) != 1 {
		t.Fatalf("pools: %+v", list)
	}
	p := list[0]
	if p.Status != PoolFailing || p.Health == nil || p.Health.Failures != 4 || !p.Health.NextCreateAt.Equal(next) ||
		!strings.Contains(p.Health.LastError, "profile") {
		t.Fatalf("failing pool view: status %q, health %+v", p.Status, p.Health)
	}
	health = nil
	p = PoolView{}
	raw := h.must(200, "GET", "/api/v1/pools/linux", nil, &p)
	if p.Status != PoolOK || p.Health != nil || strings.Contains(raw, `"health"`) {
		t.Fatalf("healthy pool view: %s", raw)
	}
}
