package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// errSkip aborts an UpdateInstance whose precondition no longer holds.
var errSkip = errors.New("instance changed meanwhile")

const nameAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func newName(prefix string) string {
	if prefix == "" {
		prefix = "paddock"
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = nameAlphabet[int(b[i])%len(nameAlphabet)]
	}
	return prefix + "-" + string(b)
}

// planCreates records the intent to create machines (one transaction for the
// whole burst), then starts each provider call at once: this is the hot path,
// no tick in between. The rows are written as creating, as their calls start
// right after the commit (each may wait for a slot of its provider): a
// machine may call back before its provider's Create returns, and a separate
// write per machine would slow the burst. arrival gives, per create, when its job's event arrived
// (zero if it was not made for a job).
func (c *Controller) planCreates(ctx context.Context, creates []scheduler.Create, pools map[string]core.Pool, arrival []time.Time) {
	if len(creates) == 0 {
		return
	}
	insts := make([]*core.Instance, len(creates))
	for n, cr := range creates {
		name := newName(pools[cr.PoolID].RunnerPrefix)
		insts[n] = &core.Instance{
			Name: name, PoolID: cr.PoolID, State: core.InstanceCreating, Runner: core.RunnerPending,
			Labels: cr.Labels, Size: cr.Size, CPU: cr.CPU, MemoryMB: cr.MemoryMB, DiskGB: cr.DiskGB,
			EntityID: cr.EntityID, TokenHash: hashToken(c.instanceToken(name)),
			// A shared pool's warm machine waits for a job of any entity
			// it serves (late binding) instead of registering at the home one.
			Unbound: cr.Reason != core.CreateForJob && cr.EntityID == "" && pools[cr.PoolID].Shared(),
		}
	}
	if err := c.o.Store.CreateInstances(ctx, insts); err != nil {
		c.log.Error("record create intent", "machines", len(insts), "err", err)
		return
	}
	c.mu.Lock()
	for n, inst := range insts {
		if !arrival[n].IsZero() {
			c.dispatch[inst.Name] = arrival[n]
		}
	}
	c.mu.Unlock()
	for n, inst := range insts {
		pool := pools[inst.PoolID]
		c.log.Info("instance planned", "instance", inst.Name, "pool", pool.Name, "reason", creates[n].Reason, "labels", inst.Labels)
		c.launch(ctx, *inst, &pool)
	}
}

// planDelete records the intent to remove an instance.
func (c *Controller) planDelete(ctx context.Context, name string, reason core.DeleteReason) {
	_, err := c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		if i.State == core.InstancePendingDelete || i.State == core.InstanceDeleting || i.State == core.InstanceDeleted {
			return errSkip
		}
		i.State, i.DeleteReason, i.Attempts = core.InstancePendingDelete, reason, 0
		i.NextAttemptAt = time.Time{}
		return nil
	})
	if err != nil && !errors.Is(err, errSkip) {
		c.log.Error("record delete intent", "instance", name, "err", err)
		return
	}
	if err == nil {
		c.log.Info("instance to delete", "instance", name, "reason", reason)
	}
}

// launchPending starts a provider/forge operation for every instance whose
// recorded intent is not being carried out yet: this is both the hot path and
// crash recovery. It returns the earliest delayed retry, if any.
func (c *Controller) launchPending(ctx context.Context, now time.Time) time.Time {
	insts, err := c.o.Store.ListInstances(ctx, store.InstanceFilter{States: []core.InstanceState{
		core.InstancePendingCreate, core.InstanceCreating, core.InstancePendingDelete, core.InstanceDeleting}})
	if err != nil {
		c.log.Error("list pending instances", "err", err)
		return now.Add(time.Second)
	}
	var next time.Time
	for _, inst := range insts {
		if inst.NextAttemptAt.After(now) {
			if next.IsZero() || inst.NextAttemptAt.Before(next) {
				next = inst.NextAttemptAt
			}
			continue
		}
		c.launch(ctx, inst, nil)
	}
	return next
}

// launch starts the operation an instance's state calls for, unless one is
// already running for it. pool may be nil (it is then read from the store).
func (c *Controller) launch(ctx context.Context, inst core.Instance, pool *core.Pool) {
	if !c.claim(inst.Name) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.release(inst.Name)
		if pool == nil {
			// The caller's copy may predate an operation that finished just before
			// the claim: read the state again so no operation runs twice.
			cur, err := c.o.Store.GetInstance(ctx, inst.Name)
			if err != nil {
				c.log.Error("read instance", "instance", inst.Name, "err", err)
				return
			}
			if cur.NextAttemptAt.After(c.o.Now()) {
				return // a retry backs off; the loop wakes for it
			}
			inst = cur
		}
		switch inst.State {
		case core.InstancePendingCreate, core.InstanceCreating:
			c.create(ctx, inst, pool)
		case core.InstancePendingDelete, core.InstanceDeleting:
			c.remove(ctx, inst)
		default:
			return
		}
		c.Notify()
	}()
}

func (c *Controller) claim(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[name] {
		return false
	}
	c.inflight[name] = true
	return true
}

func (c *Controller) release(name string) {
	c.mu.Lock()
	delete(c.inflight, name)
	c.mu.Unlock()
}

// backoff is the wait before retry number attempts (1, 2, 4 … s, at most 5 min).
func backoff(attempts int) time.Duration {
	d := time.Second << min(max(attempts-1, 0), 9)
	return min(d, 5*time.Minute)
}

func (c *Controller) provider(ctx context.Context, inst core.Instance) (provider.Provider, core.Pool, error) {
	pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
	if err != nil {
		return nil, pool, fmt.Errorf("pool %s: %w", inst.PoolID, err)
	}
	p, ok := c.o.Providers[pool.Provider]
	if !ok {
		return nil, pool, fmt.Errorf("provider %q is not configured on this manager", pool.Provider)
	}
	return p, pool, nil
}

// create carries out a create intent. The instance is creating before the
// provider is called (a retry is marked so here): a machine may boot and call
// back for its runner config before the provider's Create returns (providers
// that wait for the machine do), and its token must be accepted then.
func (c *Controller) create(ctx context.Context, inst core.Instance, known *core.Pool) {
	var (
		p    provider.Provider
		pool core.Pool
		err  error
	)
	if known != nil {
		pool = *known
		var ok bool
		if p, ok = c.o.Providers[pool.Provider]; !ok {
			err = fmt.Errorf("provider %q is not configured on this manager", pool.Provider)
		}
	} else {
		p, pool, err = c.provider(ctx, inst)
	}
	if err != nil {
		c.failCreate(ctx, inst.Name, pool, nil, err)
		return
	}
	sem := c.sem[pool.Provider]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-sem }()
	if inst.State == core.InstancePendingCreate { // a retry: new machines are recorded as creating
		if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
			if i.State != core.InstancePendingCreate && i.State != core.InstanceCreating {
				return errSkip // deleted meanwhile: the delete intent wins
			}
			i.State = core.InstanceCreating
			return nil
		}); err != nil {
			if !errors.Is(err, errSkip) {
				c.log.Error("mark creating", "instance", inst.Name, "err", err)
			}
			return
		}
	}
	spec := provider.Spec{
		Name: inst.Name, ControllerID: c.o.ControllerID, PoolID: pool.ID, Image: pool.Image, Flavor: pool.FlavorFor(inst.Size),
		OSType: pool.OSType, Arch: pool.Arch, Labels: inst.Labels, CPU: inst.CPU, MemoryMB: inst.MemoryMB,
		DiskGB: inst.DiskGB, MetadataURL: c.o.MetadataURL, CallbackURL: c.o.CallbackURL,
		Token: c.instanceToken(inst.Name), ExtraSpecs: pool.ExtraSpecs,
	}
	c.mu.Lock()
	arrival, ok := c.dispatch[inst.Name]
	delete(c.dispatch, inst.Name)
	c.mu.Unlock()
	if ok {
		d := c.o.Now().Sub(arrival)
		c.o.Metrics.DispatchLatency.Observe(d.Seconds())
		if c.o.OnDispatch != nil {
			c.o.OnDispatch(d)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	start := time.Now()
	m, err := p.Create(cctx, spec)
	cancel()
	c.observeOp(pool.Provider, "create", start, err)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the intent stays, the next start carries it out
		}
		c.failCreate(ctx, inst.Name, pool, p, err)
		return
	}
	// Only the instance state moves: the runner state the machine may already
	// have reported (installing, idle, even a job) stays as it is.
	if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		if i.State != core.InstancePendingCreate && i.State != core.InstanceCreating {
			return errSkip // deleted meanwhile: the delete intent wins
		}
		i.State, i.ProviderID, i.Fault = core.InstanceRunning, m.ProviderID, ""
		return nil
	}); err != nil && !errors.Is(err, errSkip) {
		c.log.Error("mark running", "instance", inst.Name, "err", err)
	}
	c.noteCreate(pool, nil)
	c.log.Info("instance created", "instance", inst.Name, "provider_id", m.ProviderID)
}

// failCreate records a failed create. p is the provider called, nil if none
// was. A machine that already fetched its config or reported in exists,
// whatever the provider answered (one that waits for the machine may time out
// after it booted): it is kept as running, and reconcile retires it if the
// provider does not list it. Otherwise the instance goes to error for a
// retry, and any half-made machine is removed so the retry starts clean and
// nothing leaks; the error state is written first, so a machine calling back
// from then on is refused instead of handed a runner that is about to die.
func (c *Controller) failCreate(ctx context.Context, name string, pool core.Pool, p provider.Provider, cause error) {
	calledBack := func(i core.Instance) bool { return p != nil && (i.TokenUsed || i.Runner != core.RunnerPending) }
	// The pool's health changes before the instance leaves creating: a
	// decision in between must not see the create over but the pool not yet
	// backing off, or it would start another create at once.
	noted, wasFailing := false, false
	if cur, err := c.o.Store.GetInstance(ctx, name); err != nil || !calledBack(cur) {
		noted, wasFailing = true, c.noteCreate(pool, cause)
	}
	now := c.o.Now()
	var kept, failed bool
	if _, err := c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		kept, failed = false, false
		if i.State != core.InstanceCreating && i.State != core.InstancePendingCreate {
			return errSkip
		}
		if calledBack(*i) {
			i.State, kept = core.InstanceRunning, true
			i.Fault = truncate("provider reported a failed create after the machine called back: "+cause.Error(), 2000)
			return nil
		}
		i.State, failed = core.InstanceError, true
		i.Attempts++
		i.NextAttemptAt = now.Add(backoff(i.Attempts))
		i.Fault = truncate(cause.Error(), 2000)
		return nil
	}); err != nil && !errors.Is(err, errSkip) {
		c.log.Error("record create failure", "instance", name, "err", err)
	}
	if kept {
		c.log.Warn("create failed but the machine is up: keeping it", "instance", name, "err", cause)
		c.noteCreate(pool, nil)
		return
	}
	if p != nil && failed {
		dctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
		if derr := p.Delete(dctx, name); derr != nil {
			c.log.Warn("clean up failed create", "instance", name, "err", derr)
		}
		cancel()
	}
	if noted && wasFailing {
		c.log.Debug("create failed", "instance", name, "err", cause)
	} else if noted {
		c.log.Warn("create failed", "instance", name, "err", cause)
	}
}

// remove carries out a delete intent: forge registration first (so a busy
// runner is never cut off by scale-down), then the machine.
func (c *Controller) remove(ctx context.Context, inst core.Instance) {
	if inst.State == core.InstancePendingDelete && inst.RunnerID != 0 && (inst.Runner != core.RunnerDone || c.keepsDoneRunners(ctx, inst)) {
		err := c.removeRunner(ctx, inst)
		switch {
		case errors.Is(err, forge.ErrRunnerBusy) && inst.DeleteReason.KeepIfBusy():
			c.log.Info("runner busy: delete cancelled", "instance", inst.Name, "reason", inst.DeleteReason)
			_, uerr := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
				if i.State != core.InstancePendingDelete {
					return errSkip
				}
				i.State, i.Runner, i.DeleteReason = core.InstanceRunning, core.RunnerActive, ""
				return nil
			})
			if uerr != nil && !errors.Is(uerr, errSkip) {
				c.log.Error("cancel delete", "instance", inst.Name, "err", uerr)
			}
			return
		case errors.Is(err, forge.ErrRunnerBusy):
			// Forced removal (max runtime, timeouts): destroying the machine ends the job;
			// reconcile removes the then-offline registration.
		case err != nil:
			c.retryDelete(ctx, inst.Name, fmt.Errorf("remove runner from forge: %w", err))
			return
		}
	}
	if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		if i.State != core.InstancePendingDelete && i.State != core.InstanceDeleting {
			return errSkip
		}
		i.State = core.InstanceDeleting
		return nil
	}); err != nil {
		if !errors.Is(err, errSkip) {
			c.log.Error("mark deleting", "instance", inst.Name, "err", err)
		}
		return
	}
	p, pool, err := c.provider(ctx, inst)
	if err != nil && errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("pool of instance is gone; cannot tell which provider holds it: %w", err)
	}
	if err != nil {
		c.retryDelete(ctx, inst.Name, err)
		return
	}
	sem := c.sem[pool.Provider]
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	start := time.Now()
	err = p.Delete(cctx, inst.Name)
	cancel()
	<-sem
	c.observeOp(pool.Provider, "delete", start, err)
	if err != nil {
		c.retryDelete(ctx, inst.Name, err)
		return
	}
	c.recordUsage(ctx, inst, pool)
	if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		i.State = core.InstanceDeleted
		return nil
	}); err != nil {
		c.log.Error("mark deleted", "instance", inst.Name, "err", err)
	}
	c.log.Info("instance deleted", "instance", inst.Name, "reason", inst.DeleteReason)
}

func (c *Controller) retryDelete(ctx context.Context, name string, cause error) {
	if ctx.Err() != nil {
		return
	}
	c.log.Warn("delete failed; will retry", "instance", name, "err", cause)
	now := c.o.Now()
	var rl *forge.RateLimitError
	if _, err := c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		i.State = core.InstancePendingDelete
		i.Attempts++
		i.NextAttemptAt = now.Add(backoff(i.Attempts))
		if errors.As(cause, &rl) && rl.RetryAfter > 0 {
			i.NextAttemptAt = now.Add(rl.RetryAfter)
		}
		i.Fault = truncate(cause.Error(), 2000)
		return nil
	}); err != nil {
		c.log.Error("record delete failure", "instance", name, "err", err)
	}
}

func (c *Controller) removeRunner(ctx context.Context, inst core.Instance) error {
	client, ent, err := c.forgeFor(ctx, inst)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	return client.DeleteRunner(cctx, ent, inst.RunnerID)
}

// forgeFor resolves the entity an instance's runner registers with (its
// own EntityID on a shared pool, else its pool's) and a client for its forge.
func (c *Controller) forgeFor(ctx context.Context, inst core.Instance) (forge.Client, core.Entity, error) {
	pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
	if err != nil {
		return nil, core.Entity{}, err
	}
	entityID := pool.EntityID
	if inst.EntityID != "" {
		entityID = inst.EntityID
	}
	ent, err := c.o.Store.GetEntity(ctx, entityID)
	if err != nil {
		return nil, ent, err
	}
	client, err := c.o.Forges.Client(ctx, ent.ForgeID)
	if err == nil && c.o.PoolClients != nil {
		client, err = c.o.PoolClients.PoolClient(ctx, pool, client)
	}
	return client, ent, err
}

func (c *Controller) observeOp(prov, op string, start time.Time, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	c.o.Metrics.ProviderOps.WithLabelValues(prov, op, res).Observe(time.Since(start).Seconds())
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
