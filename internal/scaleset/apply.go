package scaleset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	ghss "github.com/actions/scaleset"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/jobevent"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// resultCanceled is what JobCompleted says when an assignment was withdrawn
// (and, with a runner named, when the run was cancelled).
const resultCanceled = "canceled"

// apply turns one message's job events into the controller's job events:
// JobAssigned is a queued job (the scheduler then makes a machine for it),
// JobStarted and JobCompleted move the job and its runner on.
func (l *listener) apply(ctx context.Context, pool core.Pool, msg *ghss.RunnerScaleSetMessage) error {
	_, ent, f, err := l.m.load(ctx, pool.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	send := func(action core.JobAction, base ghss.JobMessageBase, mut func(*core.Job), runnerID int64) error {
		ev := forge.JobEvent{Action: action, Job: jobOf(base), Entity: refOf(ent), RunnerID: runnerID, FromScaleSet: true}
		if mut != nil {
			mut(&ev.Job)
		}
		// The message's jobs get the rule webhooks get; Paddock's own
		// placeholders (negative ids) are written by applyStats, not here.
		if err := forge.CheckJobEvent(ev); err != nil {
			l.log.Warn("scale set job refused", "pool", pool.Name, "err", err)
			return nil
		}
		_, err := l.events.HandleJobEvent(ctx, f.ID, ev, now)
		if errors.Is(err, jobevent.ErrNotManaged) {
			l.log.Warn("scale set job for an entity Paddock does not manage", "job", base.RunnerRequestID)
			return nil
		}
		return err
	}
	for _, a := range msg.JobAssignedMessages {
		delete(l.canceled, a.RunnerRequestID)
		if err := send(core.JobActionQueued, a.JobMessageBase, nil, 0); err != nil {
			return err
		}
	}
	for _, s := range msg.JobStartedMessages {
		delete(l.canceled, s.RunnerRequestID)
		err := send(core.JobActionInProgress, s.JobMessageBase, func(j *core.Job) {
			j.State, j.RunnerName, j.StartedAt = core.JobInProgress, s.RunnerName, orNow(s.RunnerAssignTime, now)
		}, int64(s.RunnerID))
		if err != nil {
			return err
		}
	}
	for _, c := range msg.JobCompletedMessages {
		if c.Result == resultCanceled && c.RunnerID == 0 && c.RunnerName == "" {
			// Not acquired in time: GitHub withdraws the assignment and
			// usually assigns the job again, so it stays queued for now.
			l.canceled[c.RunnerRequestID] = now
			continue
		}
		delete(l.canceled, c.RunnerRequestID)
		err := send(core.JobActionCompleted, c.JobMessageBase, func(j *core.Job) {
			j.State, j.RunnerName, j.Conclusion = core.JobCompleted, c.RunnerName, conclusion(c.Result)
			j.CompletedAt = orNow(c.FinishTime, now)
		}, int64(c.RunnerID))
		if err != nil {
			return err
		}
	}
	return nil
}

func jobOf(b ghss.JobMessageBase) core.Job {
	repo := b.RepositoryName
	if b.OwnerName != "" {
		repo = b.OwnerName + "/" + b.RepositoryName
	}
	return core.Job{ID: b.RunnerRequestID, RunID: b.WorkflowRunID, Repository: repo, Name: b.JobDisplayName,
		Workflow: b.JobWorkflowRef, Labels: slices.Clone(b.RequestLabels), State: core.JobQueued, QueuedAt: b.QueueTime}
}

// refOf names exactly the pool's entity, so the controller files the job there.
func refOf(ent core.Entity) forge.EntityRef {
	switch ent.Kind {
	case core.EntityOrganization:
		return forge.EntityRef{Organization: ent.Name}
	case core.EntityEnterprise:
		return forge.EntityRef{Enterprise: ent.Name}
	}
	return forge.EntityRef{Repository: ent.Name}
}

// conclusion maps the Actions service's results to REST conclusions.
func conclusion(result string) string {
	switch result {
	case "succeeded":
		return "success"
	case "failed":
		return "failure"
	case resultCanceled:
		return "cancelled"
	}
	return result
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// deficitGrace bounds how long statistics may ask for more runners than
// the messages named before placeholders stand in for the missing jobs.
const deficitGrace = 5 * time.Second

// placeholderIDs are negative, so they never meet a forge's job ids, and
// start from the clock so a restart does not reuse them.
var placeholderIDs atomic.Int64

func init() { placeholderIDs.Store(-time.Now().UnixMicro()) }

// applyStats makes the pool's queued demand equal what the statistics say is
// waiting (TotalAssignedJobs − TotalRunningJobs), which is how GitHub means
// scale sets to scale: messages can be truncated or replayed, statistics are
// always current. Missing demand gets placeholder jobs (their machines serve
// whichever assigned job GitHub hands them); surplus placeholders go first;
// surplus real jobs go only after ReassignGrace, cancelled ones first.
//
// Placeholders are added only when drained is true (the last poll found no
// message) or the shortfall has lasted deficitGrace: statistics run ahead of
// the messages still queued, and those name the jobs.
func (l *listener) applyStats(ctx context.Context, st *ghss.RunnerScaleSetStatistic, drained bool) error {
	if st == nil {
		return errNoStats
	}
	pool, ent, _, err := l.m.load(ctx, l.b.poolID)
	if err != nil {
		return err
	}
	real, ph, err := l.queued(ctx, pool)
	if err != nil {
		return err
	}
	for id := range l.canceled {
		if !slices.ContainsFunc(real, func(j core.Job) bool { return j.ID == id }) {
			delete(l.canceled, id)
		}
	}
	now := time.Now()
	waiting := max(0, st.TotalAssignedJobs-st.TotalRunningJobs)
	need := max(0, waiting-len(real))
	if need > len(ph) {
		if l.deficitSince.IsZero() {
			l.deficitSince = now
		}
		if !drained && now.Sub(l.deficitSince) < deficitGrace {
			need = len(ph)
		}
	} else {
		l.deficitSince = time.Time{}
	}
	changed := len(ph) != need
	for n := len(ph); n < need; n++ {
		j := core.Job{ID: placeholderIDs.Add(-1), EntityID: ent.ID, Name: "scale set demand",
			Labels: []string{pool.ScaleSetName()}, State: core.JobQueued, QueuedAt: now, ReceivedAt: now}
		if _, err := l.m.o.Store.UpsertJob(ctx, &j); err != nil {
			return err
		}
	}
	for _, j := range ph[min(need, len(ph)):] {
		j.State, j.Conclusion, j.CompletedAt = core.JobCompleted, "skipped", now
		if _, err := l.m.o.Store.UpsertJob(ctx, &j); err != nil {
			return err
		}
	}
	if err := l.retireExcess(ctx, ent, real, len(real)-waiting, now); err != nil {
		return err
	}
	if changed {
		l.log.Info("scale set statistics", "pool", pool.Name, "assigned", st.TotalAssignedJobs,
			"running", st.TotalRunningJobs, "placeholders", need)
		l.events.Notify()
	}
	return nil
}

// queued lists the queued jobs the scheduler would give this pool, split
// into real jobs and placeholders.
func (l *listener) queued(ctx context.Context, pool core.Pool) (real, ph []core.Job, err error) {
	pools, err := l.m.o.Store.ListPools(ctx)
	if err != nil {
		return nil, nil, err
	}
	jobs, err := l.m.o.Store.ListJobs(ctx, store.JobFilter{EntityID: pool.EntityID, States: []core.JobState{core.JobQueued}})
	if err != nil {
		return nil, nil, err
	}
	for _, j := range jobs {
		ms := scheduler.MatchPools(pools, pool.EntityID, j.Labels)
		if !slices.ContainsFunc(ms, func(m scheduler.MatchResult) bool { return m.Pool.ID == pool.ID }) {
			continue
		}
		if j.ID < 0 {
			ph = append(ph, j)
		} else {
			real = append(real, j)
		}
	}
	return real, ph, nil
}

// retireExcess completes jobs GitHub no longer has assigned here once the
// excess has lasted ReassignGrace: an assignment withdrawn and not renewed,
// or a job cancelled while queued. Their machines become idle capacity and
// are scaled down as usual, so nothing leaks.
func (l *listener) retireExcess(ctx context.Context, ent core.Entity, real []core.Job, excess int, now time.Time) error {
	if excess <= 0 {
		l.excessSince = time.Time{}
		return nil
	}
	if l.excessSince.IsZero() {
		l.excessSince = now
	}
	if now.Sub(l.excessSince) < l.m.o.ReassignGrace {
		return nil
	}
	slices.SortFunc(real, func(a, b core.Job) int {
		ca, oka := l.canceled[a.ID]
		cb, okb := l.canceled[b.ID]
		switch {
		case oka && !okb:
			return -1
		case okb && !oka:
			return 1
		case oka && okb:
			return ca.Compare(cb)
		}
		return a.QueuedAt.Compare(b.QueuedAt)
	})
	for _, j := range real[:min(excess, len(real))] {
		j.State, j.Conclusion, j.CompletedAt = core.JobCompleted, "cancelled", now
		j.Note = "no longer assigned to this scale set"
		ev := forge.JobEvent{Action: core.JobActionCompleted, Job: j, Entity: refOf(ent), FromScaleSet: true}
		if _, err := l.events.HandleJobEvent(ctx, ent.ForgeID, ev, now); err != nil {
			return fmt.Errorf("retire job %d: %w", j.ID, err)
		}
		delete(l.canceled, j.ID)
		l.log.Info("retired job no longer assigned to the scale set", "job", j.ID)
	}
	l.excessSince = time.Time{}
	return nil
}
