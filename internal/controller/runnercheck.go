package controller

import (
	"context"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// offlineListings is how many consecutive reconcile listings must show a
// runner Paddock thinks is up as offline before its machine is replaced (and
// only once Options.RunnerOnlineGrace has passed since it was reported up): a
// runner that has just started may not have connected yet.
const offlineListings = 2

// checkRunners retires instances whose runner the forge contradicts. before
// and after are the store read just before and after the listing; only an
// instance running with the same registration in both is judged, so a
// runner minted or removed while the listing ran is not mistaken for gone.
// Scale-set pools are left to their listener, whose runners the REST listing
// is not relied on to show.
func (c *Controller) checkRunners(ctx context.Context, ent core.Entity, entPools map[string]core.Pool,
	before, after map[string]core.Instance, listed map[string]forge.Runner) {
	for name, prev := range before {
		pool, ok := entPools[prev.PoolID]
		if !ok {
			continue
		}
		cur := after[name]
		if pool.ScaleSet || prev.State != core.InstanceRunning || cur.State != core.InstanceRunning ||
			prev.RunnerID == 0 || cur.RunnerID != prev.RunnerID || prev.Runner != cur.Runner || c.busy(name) {
			c.setOfflineCount(name, 0)
			continue
		}
		switch cur.Runner {
		case core.RunnerInstalling, core.RunnerIdle, core.RunnerActive:
		default:
			c.setOfflineCount(name, 0)
			continue
		}
		r, ok := listed[name]
		switch {
		case !ok || r.ID != cur.RunnerID:
			c.setOfflineCount(name, 0)
			c.log.Warn("reconcile: runner registration gone at the forge; retiring its machine",
				"entity", ent.Name, "instance", name, "runner_state", cur.Runner)
			c.planDelete(ctx, name, core.DeleteRunnerGone)
		case r.Status == "offline" && !r.Busy && cur.Runner != core.RunnerInstalling:
			n := c.offlineCount(name) + 1
			if n < offlineListings || c.o.Now().Sub(cur.RunnerSince) < c.o.RunnerOnlineGrace {
				c.setOfflineCount(name, n)
				continue
			}
			c.setOfflineCount(name, 0)
			c.log.Warn("reconcile: runner never online at the forge; replacing its machine",
				"entity", ent.Name, "instance", name, "runner_state", cur.Runner, "listings", n)
			c.planDelete(ctx, name, core.DeleteRunnerOffline)
		default:
			c.setOfflineCount(name, 0)
		}
	}
}

func (c *Controller) offlineCount(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offline[name]
}

func (c *Controller) setOfflineCount(name string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == 0 {
		delete(c.offline, name)
		return
	}
	if c.offline == nil {
		c.offline = map[string]int{}
	}
	c.offline[name] = n
}
