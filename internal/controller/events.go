package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// HandleJobEvent records a workflow_job event from a forge and wakes the loop.
// receivedAt is when the event reached Paddock (the start of the hot path).
func (c *Controller) HandleJobEvent(ctx context.Context, forgeID string, ev forge.JobEvent, receivedAt time.Time) (jobevent.Outcome, error) {
	if _, acted := ev.Action.JobState(); !acted {
		return jobevent.OutcomeIgnored, nil
	}
	ent, err := c.resolveEntity(ctx, forgeID, ev)
	if err != nil {
		return "", err
	}
	if !ev.FromScaleSet && c.servedByScaleSet(ctx, ent.ID, ev.Job.Labels) {
		return jobevent.OutcomeIgnored, nil
	}
	job := ev.Job
	job.EntityID = ent.ID
	if job.ReceivedAt.IsZero() {
		job.ReceivedAt = receivedAt
	}
	key := jobKey{ent.ID, job.ID}
	added := false
	if ev.Action == core.JobActionQueued && (c.o.Leading == nil || c.o.Leading()) {
		// Noted before the job is stored: a step running in between must
		// already see when the job arrived.
		c.mu.Lock()
		if _, seen := c.arrivals[key]; !seen {
			c.arrivals[key], added = receivedAt, true
		}
		c.mu.Unlock()
	}
	changed, err := c.o.Store.UpsertJob(ctx, &job)
	if err != nil || !changed {
		if added {
			c.forgetArrival(ent.ID, job.ID)
		}
		if err != nil {
			return "", fmt.Errorf("store job: %w", err)
		}
		return jobevent.OutcomeUnchanged, nil
	}
	switch ev.Action {
	case core.JobActionInProgress:
		c.forgetArrival(ent.ID, job.ID)
		c.runnerTookJob(ctx, job)
	case core.JobActionCompleted:
		c.forgetArrival(ent.ID, job.ID)
		c.runnerFinished(ctx, job)
	}
	c.Notify()
	return jobevent.OutcomeStored, nil
}

func (c *Controller) forgetArrival(entityID string, id int64) {
	c.mu.Lock()
	delete(c.arrivals, jobKey{entityID, id})
	c.mu.Unlock()
}

// resolveEntity picks the managed entity an event belongs to: the most
// specific one (repository, then organization, then enterprise) that has a
// pool for the job's labels, else the most specific managed one.
func (c *Controller) resolveEntity(ctx context.Context, forgeID string, ev forge.JobEvent) (core.Entity, error) {
	ents, err := c.o.Store.ListEntities(ctx)
	if err != nil {
		return core.Entity{}, err
	}
	want := []struct {
		kind core.EntityKind
		name string
	}{
		{core.EntityRepository, ev.Entity.Repository},
		{core.EntityOrganization, ev.Entity.Organization},
		{core.EntityEnterprise, ev.Entity.Enterprise},
	}
	var cands []core.Entity
	for _, w := range want {
		if w.name == "" {
			continue
		}
		for _, e := range ents {
			if e.ForgeID == forgeID && e.Kind == w.kind && equalFold(e.Name, w.name) {
				cands = append(cands, e)
			}
		}
	}
	if len(cands) == 0 {
		return core.Entity{}, jobevent.ErrNotManaged
	}
	if len(cands) > 1 {
		pools, err := c.o.Store.ListPools(ctx)
		if err != nil {
			return core.Entity{}, err
		}
		f, err := c.o.Store.GetForge(ctx, forgeID)
		if err != nil {
			return core.Entity{}, err
		}
		// The forge's own rules, as the scheduler uses: a pool it would not
		// offer the job to must not draw the job to its entity.
		rules := forge.LabelRulesFor(f.Kind)
		for _, e := range cands {
			if len(scheduler.MatchPoolsWith(rules, pools, e.ID, ev.Job.Labels)) > 0 {
				return e, nil
			}
		}
	}
	return cands[0], nil
}

func equalFold(a, b string) bool {
	return len(a) == len(b) && (a == b || lower(a) == lower(b))
}

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}

// runnerTookJob marks the instance whose runner started the job as busy.
func (c *Controller) runnerTookJob(ctx context.Context, job core.Job) {
	if job.RunnerName == "" {
		return
	}
	inst, err := c.o.Store.UpdateInstance(ctx, job.RunnerName, func(i *core.Instance) error {
		if i.Runner == core.RunnerActive && i.JobID == 0 {
			i.JobID = job.ID // the machine said it was busy; now the forge names the job
			return nil
		}
		if !i.Runner.CanTransition(core.RunnerActive) {
			return errSkip
		}
		i.Runner, i.JobID = core.RunnerActive, job.ID
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return // a runner Paddock does not manage
	}
	if err != nil {
		if !errors.Is(err, errSkip) {
			c.log.Error("mark runner active", "instance", job.RunnerName, "err", err)
		}
		return
	}
	if !job.StartedAt.IsZero() && !job.QueuedAt.IsZero() {
		pool := inst.PoolID
		if p, err := c.o.Store.GetPool(ctx, inst.PoolID); err == nil {
			pool = p.Name
		}
		c.o.Metrics.JobWait.WithLabelValues(pool).Observe(job.StartedAt.Sub(job.QueuedAt).Seconds())
	}
}

// runnerFinished records that the instance's one job is over: the machine is
// spent and goes to deletion at once.
func (c *Controller) runnerFinished(ctx context.Context, job core.Job) {
	if job.RunnerName == "" {
		return
	}
	_, err := c.o.Store.UpdateInstance(ctx, job.RunnerName, func(i *core.Instance) error {
		if i.Runner.CanTransition(core.RunnerDone) {
			i.Runner = core.RunnerDone
		}
		if i.JobID == 0 {
			i.JobID = job.ID
		}
		if i.State.CanTransition(core.InstancePendingDelete) && i.State != core.InstancePendingDelete {
			i.State, i.DeleteReason, i.Attempts = core.InstancePendingDelete, core.DeleteJobCompleted, 0
			i.NextAttemptAt = time.Time{}
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Error("mark runner done", "instance", job.RunnerName, "err", err)
	}
}

// DeleteInstance removes an instance on an operator's request. A runner that
// is running a job is kept (the forge refuses to remove it); use max_job_runtime
// to bound jobs.
func (c *Controller) DeleteInstance(ctx context.Context, name string) error {
	inst, err := c.o.Store.GetInstance(ctx, name)
	if err != nil {
		return err
	}
	c.planDelete(ctx, inst.Name, core.DeleteOperator)
	c.Notify()
	return nil
}

// servedByScaleSet reports whether a job with these labels goes to a
// scale-set pool, whose listener accounts for it; seen again through a webhook
// or a poll (under another job id) it would be counted twice.
func (c *Controller) servedByScaleSet(ctx context.Context, entityID string, labels []string) bool {
	pools, err := c.o.Store.ListPools(ctx)
	if err != nil {
		return false
	}
	// Matching costs per pool; most installations have no scale-set pool.
	if !slices.ContainsFunc(pools, func(p core.Pool) bool { return p.ScaleSet && p.EntityID == entityID }) {
		return false
	}
	m := scheduler.MatchPools(pools, entityID, labels)
	return len(m) > 0 && m[0].Pool.ScaleSet
}
