package events

import (
	"context"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// The methods below are the store writes that change a job's, an
// instance's or a pool's state; each passes the write through and emits
// what changed once it has committed.

// UpsertJob emits job.queued, job.running or job.done when the job's state
// moves. The stored state is read first (from a read connection) so a merge
// that only adds fields emits nothing.
func (r *Recorder) UpsertJob(ctx context.Context, j *core.Job) (bool, error) {
	var prev core.JobState
	if old, err := r.Store.GetJob(ctx, j.EntityID, j.ID); err == nil {
		prev = old.State
	}
	changed, err := r.Store.UpsertJob(ctx, j)
	if err != nil || !changed || j.State == prev {
		return changed, err
	}
	e := core.Event{EntityID: j.EntityID, JobID: j.ID, PoolID: j.PoolID, Instance: j.RunnerName,
		From: string(prev), State: string(j.State)}
	switch j.State {
	case core.JobQueued:
		e.Kind = core.EventJobQueued
	case core.JobInProgress:
		e.Kind = core.EventJobRunning
		if !j.StartedAt.IsZero() && !j.QueuedAt.IsZero() {
			e.Seconds = j.StartedAt.Sub(j.QueuedAt).Seconds()
		}
	case core.JobCompleted:
		e.Kind, e.State = core.EventJobDone, j.Conclusion
		if !j.CompletedAt.IsZero() && !j.StartedAt.IsZero() {
			e.Seconds = j.CompletedAt.Sub(j.StartedAt).Seconds()
		}
	default:
		return changed, err
	}
	r.Emit(e)
	return changed, err
}

// jobNotes wraps fn to note a pool choice (job.assigned) or a new waiting
// reason (job.waiting).
func jobNotes(c *collector, fn func(*core.Job) error) func(*core.Job) error {
	return func(j *core.Job) error {
		pool, note := j.PoolID, j.Note
		if err := fn(j); err != nil {
			return err
		}
		e := core.Event{EntityID: j.EntityID, JobID: j.ID, PoolID: j.PoolID, State: string(j.State), Reason: j.Note}
		switch {
		case j.State != core.JobQueued:
		case j.PoolID != "" && j.PoolID != pool:
			e.Kind = core.EventJobAssigned
			c.add(e)
		case j.Note != "" && j.Note != note:
			e.Kind = core.EventJobWaiting
			c.add(e)
		}
		return nil
	}
}

func (r *Recorder) UpdateJob(ctx context.Context, entityID string, id int64, fn func(*core.Job) error) (core.Job, error) {
	var c collector
	j, err := r.Store.UpdateJob(ctx, entityID, id, jobNotes(&c, fn))
	r.emitAll(&c, err)
	return j, err
}

func (r *Recorder) UpdateJobs(ctx context.Context, keys []store.JobKey, fn func(*core.Job) error) error {
	var c collector
	err := r.Store.UpdateJobs(ctx, keys, jobNotes(&c, fn))
	r.emitAll(&c, err)
	return err
}

func (r *Recorder) CreateInstance(ctx context.Context, i *core.Instance) error {
	return r.CreateInstances(ctx, []*core.Instance{i})
}

func (r *Recorder) CreateInstances(ctx context.Context, is []*core.Instance) error {
	err := r.Store.CreateInstances(ctx, is)
	if err == nil {
		for _, i := range is {
			r.Emit(core.Event{Kind: core.EventInstanceState, Instance: i.Name, PoolID: i.PoolID,
				State: string(i.State), JobID: i.JobID})
		}
	}
	return err
}

// UpdateInstance emits instance.state and instance.runner when either moves;
// the reason is the instance's fault or, on its way out, why it is removed.
func (r *Recorder) UpdateInstance(ctx context.Context, ref string, fn func(*core.Instance) error) (core.Instance, error) {
	var state core.InstanceState
	var runner core.RunnerState
	out, err := r.Store.UpdateInstance(ctx, ref, func(i *core.Instance) error {
		state, runner = i.State, i.Runner
		return fn(i)
	})
	if err != nil {
		return out, err
	}
	if out.State != state {
		reason := out.Fault
		if out.DeleteReason != "" && (out.State == core.InstancePendingDelete || out.State == core.InstanceDeleting ||
			out.State == core.InstanceDeleted) {
			reason = string(out.DeleteReason)
		}
		r.Emit(core.Event{Kind: core.EventInstanceState, Instance: out.Name, PoolID: out.PoolID, JobID: out.JobID,
			From: string(state), State: string(out.State), Reason: reason})
	}
	if out.Runner != runner {
		r.Emit(core.Event{Kind: core.EventInstanceRunner, Instance: out.Name, PoolID: out.PoolID, JobID: out.JobID,
			From: string(runner), State: string(out.Runner)})
	}
	return out, nil
}

func (r *Recorder) ModifyPool(ctx context.Context, ref string, fn func(*core.Pool) error) (core.Pool, error) {
	var was bool
	p, err := r.Store.ModifyPool(ctx, ref, func(p *core.Pool) error {
		was = p.Enabled
		return fn(p)
	})
	if err == nil && p.Enabled != was {
		r.emitPoolEnabled(p)
	}
	return p, err
}

func (r *Recorder) UpdatePool(ctx context.Context, p *core.Pool) error {
	old, gerr := r.Store.GetPool(ctx, p.ID)
	err := r.Store.UpdatePool(ctx, p)
	if err == nil && gerr == nil && old.Enabled != p.Enabled {
		r.emitPoolEnabled(*p)
	}
	return err
}

func (r *Recorder) emitPoolEnabled(p core.Pool) {
	k := core.EventPoolDrained
	if p.Enabled {
		k = core.EventPoolEnabled
	}
	r.Emit(core.Event{Kind: k, PoolID: p.ID, Pool: p.Name})
}
