package controller

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// A claim is a machine's word (its runner's job-started hook) that its
// runner took a job of a workflow run, before any forge answer named the
// job. It does two things for a polled entity: the decision holds one
// queued job of that run back (claims, below), and the poller need not pay
// for listing the run's jobs again to learn that its one job started
// (ClaimedRun).

// claimIndexAge bounds how long an index entry of a machine that never said
// it was done is kept: longer than any job may run (GitHub ends self-hosted
// jobs after 5 days).
const claimIndexAge = 6 * 24 * time.Hour

// runKey names a run of an entity.
type runKey struct {
	entity string
	run    int64
}

type claimRef struct {
	instance string
	at       time.Time
}

// indexClaim records that instance said it took a job of the run.
func (c *Controller) indexClaim(entityID string, run int64, instance string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runClaims == nil {
		c.runClaims = map[runKey][]claimRef{}
	}
	k := runKey{entityID, run}
	c.runClaims[k] = append(c.runClaims[k], claimRef{instance, now})
	if len(c.runClaims) > 2*c.claimsPruned+1024 {
		for k, refs := range c.runClaims {
			refs = slices.DeleteFunc(refs, func(r claimRef) bool { return now.Sub(r.at) > claimIndexAge })
			if len(refs) == 0 {
				delete(c.runClaims, k)
			} else {
				c.runClaims[k] = refs
			}
		}
		c.claimsPruned = len(c.runClaims)
	}
}

// unindexClaim forgets what instance said about run.
func (c *Controller) unindexClaim(entityID string, run int64, instance string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := runKey{entityID, run}
	refs := slices.DeleteFunc(c.runClaims[k], func(r claimRef) bool { return r.instance == instance })
	if len(refs) == 0 {
		delete(c.runClaims, k)
	} else {
		c.runClaims[k] = refs
	}
}

// ClaimedRun names the one live machine of the entity whose runner said it
// took a job of runID and has not exited; ok is false if none or several
// did. Each candidate is read back from the store, so a machine that ended
// unannounced (or whose word this replica did not hear) is never named.
func (c *Controller) ClaimedRun(ctx context.Context, entityID string, runID int64) (string, bool) {
	c.mu.Lock()
	refs := slices.Clone(c.runClaims[runKey{entityID, runID}])
	c.mu.Unlock()
	var live []string
	for _, r := range refs {
		inst, err := c.o.Store.GetInstance(ctx, r.instance)
		switch {
		case err == nil && inst.Ran != nil && inst.Ran.RunID == runID && inst.Runner == core.RunnerActive && machineUp(inst.State):
			live = append(live, r.instance)
		case err == nil || errors.Is(err, store.ErrNotFound):
			c.unindexClaim(entityID, runID, r.instance)
		default:
			return "", false // unsure: the caller lists the run instead
		}
	}
	if len(live) != 1 {
		return "", false
	}
	return live[0], true
}

// instanceEntity is the entity an instance's runner registers with.
func (c *Controller) instanceEntity(ctx context.Context, inst core.Instance) (string, error) {
	if inst.EntityID != "" {
		return inst.EntityID, nil
	}
	pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
	if err != nil {
		return "", err
	}
	return pool.EntityID, nil
}

// claims are the live machines of polled entities whose runner said it took
// a job of some run (Instance.Ran) that no forge answer has named yet. Each
// holds one queued job of its run until a listing that began after it said
// so (or holdLimit): a listing names the job, or shows the machine was wrong.
// Caller holds c.mu.
func (c *Controller) claims(snap *scheduler.Snapshot) []spentRunner {
	var out []spentRunner
	var pools map[string]string // pool → entity, built on the first claim
	for n := range snap.Instances {
		in := &snap.Instances[n]
		if in.Ran == nil || in.JobID != 0 || in.Runner != core.RunnerActive {
			continue
		}
		entityID := in.EntityID
		if entityID == "" {
			if pools == nil {
				pools = make(map[string]string, len(snap.Pools))
				for _, p := range snap.Pools {
					pools[p.ID] = p.EntityID
				}
			}
			entityID = pools[in.PoolID]
		}
		listed, ok := c.polled[entityID]
		if !ok || !in.RanAt.After(listed) {
			continue
		}
		out = append(out, spentRunner{entityID: entityID, poolID: in.PoolID, size: in.Size, at: in.RanAt,
			ran: in.Ran, claim: true})
	}
	return out
}
