package controller

import (
	"context"
	"encoding/json"
	"maps"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// noteCreate records a create's outcome in its pool's health (err nil: the
// provider made a machine). The pool's move between healthy and failing is
// logged once each way, never per attempt. It reports whether the pool was
// failing already.
func (c *Controller) noteCreate(pool core.Pool, err error) (wasFailing bool) {
	if pool.ID == "" {
		return false
	}
	now := c.o.Now()
	c.mu.Lock()
	before := c.health[pool.ID]
	after := scheduler.PoolHealth{}
	if err != nil {
		after = before.CreateFailed(now, truncate(err.Error(), 1000))
		c.health[pool.ID] = after
		if !before.Failing() {
			c.failedAs[pool.ID] = providerSettings(pool)
		}
	} else if !c.bootFailing[pool.ID] {
		delete(c.health, pool.ID)
		delete(c.failedAs, pool.ID)
	}
	c.mu.Unlock()
	switch {
	case err != nil && !before.Failing():
		c.log.Warn("pool failing: its machine creates fail; backing off", "pool", pool.Name,
			"provider", pool.Provider, "err", err, "next_create_in", after.NextCreateAt.Sub(now))
	case err == nil && before.Failing():
		c.log.Info("pool recovered: a machine create succeeded", "pool", pool.Name,
			"failed_creates", before.Failures, "failing_for", now.Sub(before.Since))
	}
	c.setHealthMetrics(pool.Name, after)
	return before.Failing()
}

// noteBootFailed records that a machine of the pool can never get a runner
// config as the pool stands (no runner download for its os_type/arch). It
// counts like a failed create, and a later create that succeeds does not
// clear it: only a machine that gets its config does (noteBootOK), or a
// change of the pool's settings.
func (c *Controller) noteBootFailed(pool core.Pool, err error) {
	c.mu.Lock()
	c.bootFailing[pool.ID] = true
	c.mu.Unlock()
	c.noteCreate(pool, err)
}

// noteBootOK clears a pool's boot failure once one of its machines got its
// runner config.
func (c *Controller) noteBootOK(ctx context.Context, poolID string) {
	c.mu.Lock()
	failing := c.bootFailing[poolID]
	delete(c.bootFailing, poolID)
	c.mu.Unlock()
	if !failing {
		return
	}
	if pool, err := c.o.Store.GetPool(ctx, poolID); err == nil {
		c.noteCreate(pool, nil)
	}
}

func (c *Controller) setHealthMetrics(pool string, h scheduler.PoolHealth) {
	failing := 0.0
	if h.Failing() {
		failing = 1
	}
	c.o.Metrics.PoolFailing.WithLabelValues(pool).Set(failing)
	c.o.Metrics.PoolCreateFailures.WithLabelValues(pool).Set(float64(h.Failures))
}

// PoolHealth returns, by pool id, the pools whose machine creates are
// failing (a healthy pool is absent), for the API.
func (c *Controller) PoolHealth() map[string]scheduler.PoolHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.health)
}

// observeHealth forgets removed pools and keeps every pool's health gauges
// present (0 while healthy), so alerts can rely on the series existing.
func (c *Controller) observeHealth(pools []core.Pool) map[string]scheduler.PoolHealth {
	ids := make(map[string]bool, len(pools))
	for _, p := range pools {
		ids[p.ID] = true
	}
	var reset []core.Pool
	c.mu.Lock()
	maps.DeleteFunc(c.health, func(id string, _ scheduler.PoolHealth) bool { return !ids[id] })
	for _, p := range pools {
		// An operator who fixed the pool's image or flavor wants the next
		// create now, not when the old settings' backoff runs out.
		if as, ok := c.failedAs[p.ID]; ok && c.health[p.ID].Failing() && as != providerSettings(p) {
			delete(c.health, p.ID)
			reset = append(reset, p)
		}
	}
	maps.DeleteFunc(c.failedAs, func(id string, _ string) bool { _, ok := c.health[id]; return !ok })
	maps.DeleteFunc(c.bootFailing, func(id string, _ bool) bool { _, ok := c.health[id]; return !ok })
	h := maps.Clone(c.health)
	c.mu.Unlock()
	for _, p := range reset {
		c.log.Info("pool settings changed: create backoff reset", "pool", p.Name, "provider", p.Provider)
	}
	for _, p := range pools {
		c.setHealthMetrics(p.Name, h[p.ID])
	}
	return h
}

// providerSettings is what of a pool reaches its provider: when it changes,
// creates that failed before say nothing about the next one.
func providerSettings(p core.Pool) string {
	b, _ := json.Marshal(struct {
		Provider, Image, Flavor, OSType, Arch string
		ExtraSpecs                            json.RawMessage
		Flavors                               map[string]string
	}{p.Provider, p.Image, p.Flavor, p.OSType, p.Arch, p.ExtraSpecs, p.Flavors})
	return string(b)
}
