package codec

import (
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// UTCTimes normalises a job's times so that equal instants encode equally,
// which is how a merged job is compared with the stored one.
func UTCTimes(j *core.Job) {
	for _, t := range []*time.Time{&j.QueuedAt, &j.ReceivedAt, &j.StartedAt, &j.CompletedAt, &j.UpdatedAt} {
		*t = t.UTC()
	}
}

// MergeJob folds what a later report says into the stored job. Fields the
// forge fills in as the job progresses are taken when the report has them;
// descriptive fields only fill gaps; the scheduler's own fields (PoolID,
// Note) are kept unless the report sets them.
func MergeJob(old, upd core.Job) core.Job {
	m := old
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&m.RunnerName, upd.RunnerName)
	setStr(&m.Conclusion, upd.Conclusion)
	setStr(&m.PoolID, upd.PoolID)
	setStr(&m.Note, upd.Note)
	if !upd.StartedAt.IsZero() {
		m.StartedAt = upd.StartedAt
	}
	if !upd.CompletedAt.IsZero() {
		m.CompletedAt = upd.CompletedAt
	}
	if len(m.Labels) == 0 && len(upd.Labels) > 0 {
		m.Labels = upd.Labels
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&m.Repository, upd.Repository)
	fill(&m.Name, upd.Name)
	fill(&m.Workflow, upd.Workflow)
	if m.RunID == 0 {
		m.RunID = upd.RunID
	}
	if m.RunAttempt == 0 {
		m.RunAttempt = upd.RunAttempt
	}
	if m.QueuedAt.IsZero() {
		m.QueuedAt = upd.QueuedAt
	}
	return m
}

// UpsertOnto decides what UpsertJob writes when upd (times already UTC)
// meets the stored job old: write=false keeps old as it is (a late report of
// an earlier state, or nothing new).
func UpsertOnto(old, upd core.Job, now time.Time) (m core.Job, write bool) {
	if !old.State.CanTransition(upd.State) {
		return old, false
	}
	m = MergeJob(old, upd)
	m.State = upd.State
	before, _ := ToJSON(old)
	after, _ := ToJSON(m)
	if before == after {
		return old, false
	}
	m.UpdatedAt = now
	return m, true
}

// ApplyJob runs fn on a copy of the stored job and checks the result: the
// key cannot change, the state may only move forward, ReceivedAt is kept.
func ApplyJob(old core.Job, fn func(*core.Job) error, now time.Time) (core.Job, error) {
	cur := old
	cur.Labels = append([]string(nil), old.Labels...)
	if err := fn(&cur); err != nil {
		return core.Job{}, err
	}
	if cur.EntityID != old.EntityID || cur.ID != old.ID {
		return core.Job{}, fmt.Errorf("job %d: entity_id and id cannot change", old.ID)
	}
	if !cur.State.Valid() || !old.State.CanTransition(cur.State) {
		return core.Job{}, &core.ErrTransition{Kind: "job", From: string(old.State), To: string(cur.State)}
	}
	UTCTimes(&cur)
	cur.ReceivedAt = old.ReceivedAt
	cur.UpdatedAt = now
	return cur, nil
}

// ApplyInstance runs fn on a copy of the stored instance and checks the
// result against the state machines. StateSince moves when State or Runner
// changes (timeouts are measured from the last change of either, as
// core.Instance documents); RunnerSince moves when Runner changes.
func ApplyInstance(old core.Instance, fn func(*core.Instance) error, now time.Time) (core.Instance, error) {
	cur := old
	cur.Labels = append([]string(nil), old.Labels...)
	if err := fn(&cur); err != nil {
		return core.Instance{}, err
	}
	if cur.ID != old.ID || cur.Name != old.Name {
		return core.Instance{}, fmt.Errorf("instance %q: id and name cannot change", old.Name)
	}
	if err := core.CheckInstanceTransition(old.State, cur.State); err != nil {
		return core.Instance{}, err
	}
	if err := core.CheckRunnerTransition(old.Runner, cur.Runner); err != nil {
		return core.Instance{}, err
	}
	if cur.PoolID == "" {
		return core.Instance{}, fmt.Errorf("instance %q: pool_id is required", old.Name)
	}
	// Late binding: a machine is bound once, and a bound one stays bound
	// to the same entity and job (one machine, one job).
	if old.BoundJobID != 0 && (cur.BoundJobID != old.BoundJobID || cur.EntityID != old.EntityID) ||
		cur.Unbound != old.Unbound {
		return core.Instance{}, fmt.Errorf("instance %q: a late binding cannot change", old.Name)
	}
	cur.CreatedAt, cur.UpdatedAt = old.CreatedAt, now
	if cur.State != old.State || cur.Runner != old.Runner {
		cur.StateSince = now
	}
	if cur.Runner != old.Runner {
		cur.RunnerSince = now
		if cur.OnlineAt.IsZero() && (cur.Runner == core.RunnerIdle || cur.Runner == core.RunnerActive) {
			cur.OnlineAt = now
		}
	}
	return cur, nil
}

// NewInstance fills a new instance's defaults and stamps: State
// pending_create, Runner pending, an ID from newID when empty.
func NewInstance(i core.Instance, id func() string, now time.Time) (core.Instance, error) {
	if i.State == "" {
		i.State = core.InstancePendingCreate
	}
	if i.Runner == "" {
		i.Runner = core.RunnerPending
	}
	if err := ValidateInstance(&i); err != nil {
		return i, err
	}
	if i.ID == "" {
		i.ID = id()
	}
	i.CreatedAt, i.UpdatedAt, i.StateSince, i.RunnerSince = now, now, now, now
	return i, nil
}

// ApplyPool runs fn on a copy of the stored pool; its id cannot change.
func ApplyPool(old core.Pool, fn func(*core.Pool) error, now time.Time) (core.Pool, error) {
	cur := old
	cur.Labels = append([]string(nil), old.Labels...)
	if old.Sizes != nil {
		z := *old.Sizes
		cur.Sizes = &z
	}
	if err := fn(&cur); err != nil {
		return core.Pool{}, err
	}
	if cur.ID != old.ID {
		return core.Pool{}, fmt.Errorf("pool %q: id cannot change", old.Name)
	}
	if err := ValidatePool(&cur); err != nil {
		return core.Pool{}, err
	}
	cur.CreatedAt, cur.UpdatedAt = old.CreatedAt, now
	return cur, nil
}
