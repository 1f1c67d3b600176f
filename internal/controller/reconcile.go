package controller

import (
	"context"
	"errors"
	"slices"
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

// knownInstances is every instance the store still records, deleted ones
// included (until purged): the store's proof of which names Paddock made.
func (c *Controller) knownInstances(ctx context.Context) (map[string]core.Instance, error) {
	insts, err := c.o.Store.ListInstances(ctx, store.InstanceFilter{})
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
		// The store is read before and after listing: the listing is a moment
		// between the two, so a machine created or deleted meanwhile is told
		// apart from one Paddock never made or forgot to remove.
		before, err := c.knownInstances(ctx)
		if err != nil {
			c.log.Error("reconcile: list instances", "err", err)
			return
		}
		cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
		machines, err := p.List(cctx)
		cancel()
		if err != nil {
			c.log.Error("reconcile: list machines", "provider", name, "err", err)
			continue
		}
		after, err := c.knownInstances(ctx)
		if err != nil {
			return
		}
		seen := map[string]provider.Machine{}
		for _, m := range machines {
			seen[m.Name] = m
			c.removeStrayMachine(ctx, name, p, m, before, after, provOf)
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

// removeStrayMachine deletes a listed machine that no live instance accounts
// for, if Paddock can prove it is its own. The provider lists only machines
// tagged with this manager's controller id (the provider contract); a machine
// whose instance was created or deleted while the list ran is a stale view,
// not a stray, and is left alone.
func (c *Controller) removeStrayMachine(ctx context.Context, provName string, p provider.Provider, m provider.Machine,
	before, after map[string]core.Instance, provOf map[string]string) {
	if c.busy(m.Name) {
		return
	}
	cur, known := after[m.Name]
	if known && cur.State.Live() {
		return
	}
	prev, knewBefore := before[m.Name]
	var what string
	switch {
	case knewBefore && prev.State.Live(), !knewBefore && known:
		return // its delete (or its whole life) overlapped the listing
	case knewBefore:
		what = "removing machine that outlived its delete"
	case m.PoolID != "" && provOf[m.PoolID] == "":
		c.log.Warn("reconcile: provider lists a machine of a pool this manager does not have; leaving it",
			"provider", provName, "machine", m.Name, "pool", m.PoolID)
		return
	default:
		what = "removing machine Paddock does not track"
	}
	c.log.Warn("reconcile: "+what, "provider", provName, "machine", m.Name)
	dctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	if err := p.Delete(dctx, m.Name); err != nil {
		c.log.Error("reconcile: remove stray machine", "machine", m.Name, "err", err)
	}
}

func (c *Controller) busy(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight[name]
}

// reconcileForges removes registrations of Paddock's own runners that lost
// their machine, checks the runners Paddock believes alive against the
// forge, notices busy runners whose webhook was missed, and polls for queued
// jobs.
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
		entPools := map[string]core.Pool{}
		for _, p := range pools {
			// A shared pool may hold machines registered with this entity
			// (boundEntity tells which); a tenant-shared one is assumed to.
			if p.EntityID == ent.ID || slices.Contains(p.Entities, ent.ID) || len(p.Tenants) > 0 {
				entPools[p.ID] = p
			}
		}
		if len(entPools) == 0 {
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
		if err := c.reconcileRunners(ctx, client, ent, entPools); err != nil {
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

func (c *Controller) reconcileRunners(ctx context.Context, client forge.Client, ent core.Entity, entPools map[string]core.Pool) error {
	// Read before listing: a runner id recorded by then belongs to a
	// registration that existed when the listing began.
	before, err := c.knownInstances(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	runners, err := client.ListRunners(cctx, ent)
	if err != nil {
		return err
	}
	after, err := c.knownInstances(ctx)
	if err != nil {
		return err
	}
	listed := make(map[string]forge.Runner, len(runners))
	for _, r := range runners {
		listed[r.Name] = r
		inst, known := after[r.Name]
		if known && inst.State.Live() {
			if r.Busy && inst.Runner.CanTransition(core.RunnerActive) && inst.Runner != core.RunnerActive {
				c.markActive(ctx, inst.Name)
			}
			continue
		}
		if r.Busy || !c.ownsRegistration(r, inst, known, before, entPools, ent.ID) {
			continue
		}
		c.log.Warn("reconcile: removing runner registration without a machine", "entity", ent.Name, "runner", r.Name)
		if err := client.DeleteRunner(cctx, ent, r.ID); err != nil && !errors.Is(err, forge.ErrRunnerBusy) {
			return err
		}
	}
	c.checkRunners(ctx, ent, entPools, before, after, listed)
	return nil
}

// boundEntity is the entity an instance's runner registers with: its own
// EntityID (a shared pool's machine made for another entity's job), else its
// pool's.
func boundEntity(inst core.Instance, p core.Pool) string {
	if inst.EntityID != "" {
		return inst.EntityID
	}
	return p.EntityID
}

// ownsRegistration reports whether a registration with no live instance is
// provably one Paddock made: the store still records an instance of that
// name in one of the entity's pools, and the registration is the one it
// minted. A name prefix proves nothing (anyone may register paddock-x, and a
// second installation on the same repository uses the same names), so a
// registration the store does not know is never touched.
func (c *Controller) ownsRegistration(r forge.Runner, inst core.Instance, known bool, before map[string]core.Instance, entPools map[string]core.Pool, entityID string) bool {
	if !known {
		return false
	}
	if p, ok := entPools[inst.PoolID]; !ok || boundEntity(inst, p) != entityID {
		return false
	}
	if inst.RunnerID != 0 && inst.RunnerID != r.ID {
		return false
	}
	// Deleted while the listing ran: its delete removed the registration first.
	prev, ok := before[r.Name]
	return !ok || !prev.State.Live()
}

func (c *Controller) markActive(ctx context.Context, name string) {
	_, _ = c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		if !i.Runner.CanTransition(core.RunnerActive) {
			return errSkip
		}
		i.Runner = core.RunnerActive
		return nil
	})
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
	if ll := client.Capabilities().Labelled; ll != nil {
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
