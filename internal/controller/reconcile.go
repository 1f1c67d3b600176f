package controller

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/store"
)

// startReconcile runs a reconcile in the background unless one is running.
// It never runs on the loop itself: a slow or hanging forge or provider must
// not delay the hot path.
func (c *Controller) startReconcile(ctx context.Context) {
	if !c.reconciling.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.reconciling.Store(false)
		c.reconcile(ctx)
	}()
}

// reconcile is the safety net, not the hot path: it compares the store with
// what providers and forges report and repairs both directions.
func (c *Controller) reconcile(ctx context.Context) {
	c.reconcileMachines(ctx)
	c.reconcileForges(ctx)
	c.housekeep(ctx)
	c.Notify()
}

func (c *Controller) liveInstances(ctx context.Context) (map[string]core.Instance, error) {
	insts, err := c.o.Store.ListInstances(ctx, store.InstanceFilter{Live: true})
	if err != nil {
		return nil, err
	}
	m := make(map[string]core.Instance, len(insts))
	for _, i := range insts {
		m[i.Name] = i
	}
	return m, nil
}

// reconcileMachines removes machines nobody asked for and retires instances
// whose machine stopped or vanished.
func (c *Controller) reconcileMachines(ctx context.Context) {
	before, err := c.liveInstances(ctx)
	if err != nil {
		c.log.Error("reconcile: list instances", "err", err)
		return
	}
	pools, err := c.o.Store.ListPools(ctx)
	if err != nil {
		c.log.Error("reconcile: list pools", "err", err)
		return
	}
	provOf := map[string]string{}
	for _, p := range pools {
		provOf[p.ID] = p.Provider
	}
	for name, p := range c.o.Providers {
		cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
		machines, err := p.List(cctx)
		cancel()
		if err != nil {
			c.log.Error("reconcile: list machines", "provider", name, "err", err)
			continue
		}
		// Read the store again after listing: an instance recorded between the two
		// reads has its machine listed, and must not be taken for an orphan.
		after, err := c.liveInstances(ctx)
		if err != nil {
			return
		}
		seen := map[string]provider.Machine{}
		for _, m := range machines {
			seen[m.Name] = m
			if _, ok := after[m.Name]; ok || c.busy(m.Name) {
				continue
			}
			c.log.Warn("reconcile: removing machine Paddock does not track", "provider", name, "machine", m.Name)
			dctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
			if err := p.Delete(dctx, m.Name); err != nil {
				c.log.Error("reconcile: remove orphan machine", "machine", m.Name, "err", err)
			}
			cancel()
		}
		for iname, inst := range before {
			cur, ok := after[iname]
			if !ok || provOf[inst.PoolID] != name || cur.State != core.InstanceRunning || inst.State != core.InstanceRunning || c.busy(iname) {
				continue
			}
			m, found := seen[iname]
			switch {
			case !found:
				c.planDelete(ctx, iname, "machine_vanished")
			case m.Status == provider.StatusStopped || m.Status == provider.StatusError:
				c.planDelete(ctx, iname, "machine_stopped")
			}
		}
	}
}

func (c *Controller) busy(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight[name]
}

// reconcileForges removes runner registrations without a machine, notices
// busy runners whose webhook was missed, and polls for queued jobs.
func (c *Controller) reconcileForges(ctx context.Context) {
	ents, err := c.o.Store.ListEntities(ctx)
	if err != nil {
		c.log.Error("reconcile: list entities", "err", err)
		return
	}
	pools, err := c.o.Store.ListPools(ctx)
	if err != nil {
		return
	}
	for _, ent := range ents {
		var prefixes []string
		for _, p := range pools {
			if p.EntityID == ent.ID {
				prefix := p.RunnerPrefix
				if prefix == "" {
					prefix = "paddock"
				}
				prefixes = append(prefixes, prefix+"-")
			}
		}
		if len(prefixes) == 0 {
			continue
		}
		if until, limited := c.rateLimited(ent.ForgeID); limited {
			c.log.Info("reconcile: forge rate limited; skipping", "entity", ent.Name, "until", until)
			continue
		}
		client, err := c.o.Forges.Client(ctx, ent.ForgeID)
		if err != nil {
			c.log.Error("reconcile: forge client", "entity", ent.Name, "err", err)
			continue
		}
		if err := c.reconcileRunners(ctx, client, ent, prefixes); err != nil {
			c.noteForgeError(ent, err)
			continue
		}
		if err := c.pollQueued(ctx, client, ent); err != nil {
			c.noteForgeError(ent, err)
		}
	}
}

func (c *Controller) rateLimited(forgeID string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := c.backoff[forgeID]
	return until, c.o.Now().Before(until)
}

func (c *Controller) noteForgeError(ent core.Entity, err error) {
	var rl *forge.RateLimitError
	if errors.As(err, &rl) {
		c.mu.Lock()
		c.backoff[ent.ForgeID] = c.o.Now().Add(max(rl.RetryAfter, time.Second))
		c.mu.Unlock()
	}
	c.log.Warn("reconcile: forge", "entity", ent.Name, "err", err)
}

func (c *Controller) reconcileRunners(ctx context.Context, client forge.Client, ent core.Entity, prefixes []string) error {
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	runners, err := client.ListRunners(cctx, ent)
	if err != nil {
		return err
	}
	live, err := c.liveInstances(ctx)
	if err != nil {
		return err
	}
	for _, r := range runners {
		inst, ok := live[r.Name]
		if !ok {
			if !hasAnyPrefix(r.Name, prefixes) || r.Busy {
				continue
			}
			c.log.Warn("reconcile: removing runner registration without a machine", "entity", ent.Name, "runner", r.Name)
			if err := client.DeleteRunner(cctx, ent, r.ID); err != nil && !errors.Is(err, forge.ErrRunnerBusy) {
				return err
			}
			continue
		}
		if r.Busy && inst.Runner.CanTransition(core.RunnerActive) && inst.Runner != core.RunnerActive {
			_, _ = c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
				if !i.Runner.CanTransition(core.RunnerActive) {
					return errSkip
				}
				i.Runner = core.RunnerActive
				return nil
			})
		}
	}
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// pollQueued is the safety net for webhook entities: every PollInterval it
// lists queued jobs to find those whose webhook never arrived and to retire
// those the forge no longer has queued. Poll-intake entities are left to the
// poller (internal/poller), which polls them continuously within a budget.
func (c *Controller) pollQueued(ctx context.Context, client forge.Client, ent core.Entity) error {
	if ent.Kind != core.EntityRepository || ent.Intake == core.IntakePoll {
		return nil
	}
	now := c.o.Now()
	c.mu.Lock()
	due := now.Sub(c.lastPoll[ent.ID]) >= c.o.PollInterval
	if due {
		c.lastPoll[ent.ID] = now
	}
	c.mu.Unlock()
	if !due {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	var (
		queued []core.Job
		err    error
	)
	if ll, ok := client.(forge.LabelledJobLister); ok {
		pools, perr := c.o.Store.ListPools(ctx)
		if perr != nil {
			return perr
		}
		queued, err = ll.ListQueuedJobsFor(cctx, ent, forge.PoolLabels(pools, ent.ID))
	} else {
		queued, err = client.ListQueuedJobs(cctx, ent)
	}
	if err != nil {
		return err
	}
	_, err = c.IngestQueued(ctx, ent, queued, true)
	return err
}
