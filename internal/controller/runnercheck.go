package controller

import (
	"context"
	"errors"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/store"
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
		if !ok || boundEntity(prev, pool) != ent.ID {
			continue // registered with another entity: its own listing checks it
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
			c.closeJobOfGoneRunner(ctx, ent, cur)
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

// closeJobOfGoneRunner completes the job a vanished runner was running: the
// forge has dropped the ephemeral runner (Gitea does so on cancel and sends no
// webhook), so no event will ever end the job, and an in_progress job is never
// purged by retention. The outcome is not known, so the note says why.
func (c *Controller) closeJobOfGoneRunner(ctx context.Context, ent core.Entity, inst core.Instance) {
	if inst.JobID == 0 || inst.Runner != core.RunnerActive {
		return
	}
	now := c.o.Now()
	_, err := c.o.Store.UpdateJob(ctx, ent.ID, inst.JobID, func(j *core.Job) error {
		if j.State == core.JobCompleted {
			return errSkip
		}
		j.State, j.Conclusion, j.CompletedAt = core.JobCompleted, jobConclusionUnknown, now
		j.Note = "closed by Paddock: its runner " + inst.Name +
			" was removed at the forge while running it (cancelled, or its completion event was lost); outcome unknown"
		return nil
	})
	switch {
	case err == nil:
		c.log.Info("job closed: its runner is gone at the forge", "entity", ent.Name, "job", inst.JobID, "instance", inst.Name)
	case errors.Is(err, errSkip), errors.Is(err, store.ErrNotFound):
	default:
		c.log.Error("close job of gone runner", "job", inst.JobID, "instance", inst.Name, "err", err)
	}
}

// jobConclusionUnknown is the conclusion of a job Paddock closed itself
// because the forge no longer knows its runner.
const jobConclusionUnknown = "unknown"

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
