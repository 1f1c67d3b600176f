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
	// ran is the run its job was in, as the machine's job-started hook saw
	// it (nil if the machine did not say): the hold is then one of that
	// run's jobs, not a guess among all the entity's.
	ran *core.RunRef
	// claim: a live machine's report that its runner is busy with a job of
	// ran (derived from the store on every decision, not kept in c.spent).
	claim bool
}

// tookFrom says whether a spent runner that named its run could have taken j
// (one that did not name it could have taken any job of its entity).
func (s spentRunner) tookFrom(j core.Job) bool {
	switch {
	case s.ran == nil:
		return true
	case j.RunID != s.ran.RunID:
		return false
	case s.ran.RunAttempt > 0 && j.RunAttempt > 0 && j.RunAttempt != s.ran.RunAttempt:
		return false // a re-run's jobs are new jobs of the same run
	}
	return s.ran.Repository == "" || j.Repository == "" || strings.EqualFold(j.Repository, s.ran.Repository)
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
			if jobs[i].EntityID == s.entityID && s.tookFrom(jobs[i]) && serves(s, jobs[i]) {
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
	// Runners that named their run first: an augmenting path never unmatches
	// a matched runner, so a guess can only move them within their run.
	for _, named := range []bool{true, false} {
		for r, s := range live {
			if (s.ran != nil) == named {
				augment(r, make([]bool, len(jobs)))
			}
		}
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
func (c *Controller) noteSpent(ctx context.Context, inst core.Instance, now time.Time, ran *core.RunRef) {
	entityID, err := c.instanceEntity(ctx, inst)
	if err != nil {
		return // planning as if nothing were spent is safe
	}
	if inst.JobID != 0 {
		return // its job is known started: no queued job stands for it
	}
	if ran == nil {
		ran = inst.Ran // said when the job started, if not again at exit
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.polled[entityID]; !ok {
		return
	}
	c.spent = append(c.spent, spentRunner{entityID: entityID, poolID: inst.PoolID, size: inst.Size, at: now, ran: ran})
}

// Listed tells the controller that a complete listing of an entity's queued
// jobs (or a 304 saying the previous one still holds) was asked for at
// began: spent runners of that entity that exited before then hold no job
// any longer, since the listing shows what is still queued.
func (c *Controller) Listed(entityID string, began time.Time) {
	c.mu.Lock()
	if c.polled == nil {
		c.polled = map[string]time.Time{}
	}
	if last, ok := c.polled[entityID]; !ok || began.After(last) {
		c.polled[entityID] = began
	}
	n := len(c.spent)
	c.spent = slices.DeleteFunc(c.spent, func(s spentRunner) bool {
		return s.entityID == entityID && s.at.Before(began)
	})
	// Claims are read from the store at each decision: a listing may end
	// their holds too, and only a decision can tell.
	dropped := len(c.spent) < n || c.claimHolds[entityID] > 0
	c.mu.Unlock()
	if dropped {
		c.Notify()
	}
}

// holdSpentJobs applies holdSpent to a snapshot's jobs, for the spent
// runners and for the live machines that said which run their busy runner's
// job is in (claims). It returns when the first hold lapses.
func (c *Controller) holdSpentJobs(snap *scheduler.Snapshot) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	claims := c.claims(snap)
	if len(c.spent) == 0 && len(claims) == 0 {
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
	var live []spentRunner
	snap.Jobs, live, lapse = holdSpent(snap.Now, snap.Jobs, append(claims, c.spent...), serves)
	c.spent = slices.DeleteFunc(live, func(s spentRunner) bool { return s.claim })
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
