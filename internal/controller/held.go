package controller

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// holdLimit bounds how long a spent runner holds a job back when no listing
// of its entity succeeds (the forge fails or rate-limits the poller): the
// job is then planned for as if nothing had been spent.
const holdLimit = time.Minute

// spentRunner is a machine of a polled entity whose runner exited before any
// listing showed it running a job. A runner exits after its one job, so one
// job Paddock still counts queued was most likely that one: it has already
// run, but no listing has said so yet. Planning a machine for it would make
// one that finds nothing to do (with 1 s jobs and polls about 1 s apart, 28
// machines for 20 jobs, each costing a runner registration).
type spentRunner struct {
	entityID, poolID string
	size             string    // the size label its machine was made for, if any
	at               time.Time // when the machine said its runner had exited
}

// holdSpent is the pure decision: for each spent runner it holds back one
// queued job of its entity that its pool serves (the oldest, which the
// forge most likely gave out first) until a listing that began after the
// runner exited confirms what is still queued (Listed drops the runner then).
// At most one listing interval passes before a job that was not in fact taken
// gets its machine; if no listing succeeds, holdLimit ends the hold. It
// returns the jobs to plan for, the runners still holding, and when the first
// hold lapses (zero if none).
func holdSpent(now time.Time, jobs []core.Job, spent []spentRunner,
	serves func(s spentRunner, j core.Job) bool) ([]core.Job, []spentRunner, time.Time) {
	var live []spentRunner
	var lapse time.Time
	for _, s := range spent {
		end := s.at.Add(holdLimit)
		if !now.Before(end) {
			continue
		}
		live = append(live, s)
		if lapse.IsZero() || end.Before(lapse) {
			lapse = end
		}
	}
	if len(live) == 0 {
		return jobs, nil, time.Time{}
	}
	order := make([]int, len(jobs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := jobs[a].ReceivedAt.Compare(jobs[b].ReceivedAt); c != 0 {
			return c
		}
		return cmpInt64(jobs[a].ID, jobs[b].ID)
	})
	// Which runner took which job is unknown, so as many jobs are held as
	// some assignment of runners to jobs they could have taken allows (a
	// maximum bipartite matching, by augmenting paths): holding greedily
	// could give a runner of a general pool the one job only a special
	// pool's runner could have taken, and plan a machine for a job that ran.
	cand := make([][]int, len(live)) // runner → the jobs it could have taken, oldest first
	for r, s := range live {
		for _, i := range order {
			if jobs[i].EntityID == s.entityID && serves(s, jobs[i]) {
				cand[r] = append(cand[r], i)
			}
		}
	}
	holder := make([]int, len(jobs)) // job → runner holding it, or -1
	for i := range holder {
		holder[i] = -1
	}
	var augment func(r int, seen []bool) bool
	augment = func(r int, seen []bool) bool {
		for _, i := range cand[r] {
			if seen[i] {
				continue
			}
			seen[i] = true
			if holder[i] < 0 || augment(holder[i], seen) {
				holder[i] = r
				return true
			}
		}
		return false
	}
	for r := range live {
		augment(r, make([]bool, len(jobs)))
	}
	held := make([]bool, len(jobs))
	for i, r := range holder {
		held[i] = r >= 0
	}
	kept := make([]core.Job, 0, len(jobs))
	for i, j := range jobs {
		if !held[i] {
			kept = append(kept, j)
		}
	}
	return kept, live, lapse
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// noteSpent records a runner that exited on a machine no listing saw running
// a job, if a poller lists its entity (only those learn of started jobs late;
// a webhook says so before the runner can finish, and the reconcile's own
// rare listing of webhook entities does not report through Listed, so a hold
// there would last until holdLimit).
func (c *Controller) noteSpent(ctx context.Context, inst core.Instance, now time.Time) {
	if inst.JobID != 0 {
		return // its job is known started: no queued job stands for it
	}
	entityID := inst.EntityID
	if entityID == "" {
		pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
		if err != nil {
			return // planning as if nothing were spent is safe
		}
		entityID = pool.EntityID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.polled[entityID] {
		return
	}
	c.spent = append(c.spent, spentRunner{entityID: entityID, poolID: inst.PoolID, size: inst.Size, at: now})
}

// Listed tells the controller that a complete listing of an entity's queued
// jobs (or a 304 saying the previous one still holds) was asked for at
// began: spent runners of that entity that exited before then hold no job
// any longer, since the listing shows what is still queued.
func (c *Controller) Listed(entityID string, began time.Time) {
	c.mu.Lock()
	if c.polled == nil {
		c.polled = map[string]bool{}
	}
	c.polled[entityID] = true
	n := len(c.spent)
	c.spent = slices.DeleteFunc(c.spent, func(s spentRunner) bool {
		return s.entityID == entityID && s.at.Before(began)
	})
	dropped := len(c.spent) < n
	c.mu.Unlock()
	if dropped {
		c.Notify()
	}
}

// holdSpentJobs applies holdSpent to a snapshot's jobs. It returns when the
// first hold lapses.
func (c *Controller) holdSpentJobs(snap *scheduler.Snapshot) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.spent) == 0 {
		return time.Time{}
	}
	pools := make(map[string]core.Pool, len(snap.Pools))
	for _, p := range snap.Pools {
		pools[p.ID] = p
	}
	type key struct{ pool, entity, size, labels string }
	memo := map[key]bool{}
	serves := func(s spentRunner, j core.Job) bool {
		k := key{s.poolID, s.entityID, strings.ToLower(s.size), strings.Join(j.Labels, "\x00")}
		if v, ok := memo[k]; ok {
			return v
		}
		v := poolServes(pools, snap.LabelRules, s, j)
		memo[k] = v
		return v
	}
	var lapse time.Time
	snap.Jobs, c.spent, lapse = holdSpent(snap.Now, snap.Jobs, c.spent, serves)
	return lapse
}

// poolServes says whether the spent runner could have taken job j under its
// entity's forge label rules: its pool matches the job, and a job asking for
// a size went to a machine of that size (a machine carries its size label,
// so a sized machine also takes the pool's unsized jobs, but an unsized one
// cannot take a sized job).
func poolServes(pools map[string]core.Pool, labelRules map[string]forge.LabelRules, s spentRunner, j core.Job) bool {
	p, ok := pools[s.poolID]
	if !ok {
		return false
	}
	rules, ok := labelRules[s.entityID]
	if !ok {
		rules = forge.LabelRulesFor(core.ForgeGitHub)
	}
	for _, m := range scheduler.MatchPoolsWith(rules, []core.Pool{p}, s.entityID, j.Labels) {
		if m.Pool.ID == p.ID {
			return m.Size.Label == "" || strings.EqualFold(m.Size.Label, s.size)
		}
	}
	return false
}
