package controller

import (
	"context"
	"errors"
	"slices"

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

// runKey names a run of an entity.
type runKey struct {
	entity string
	run    int64
}

// ClaimedRun names the one live machine of the entity whose runner said it
// took a job of runID and has not exited; ok is false if none or several
// did. The candidates are the last decision's (claims, below: from the
// store, so whichever replica heard the machine, and across restarts); each
// is read back, so a machine that ended since is never named. Only the
// leader decides, and only the leader polls.
func (c *Controller) ClaimedRun(ctx context.Context, entityID string, runID int64) (string, bool) {
	c.mu.Lock()
	names := slices.Clone(c.runClaims[runKey{entityID, runID}])
	c.mu.Unlock()
	var live []string
	for _, name := range names {
		inst, err := c.o.Store.GetInstance(ctx, name)
		switch {
		case err == nil && inst.Ran != nil && inst.Ran.RunID == runID && inst.Runner == core.RunnerActive && machineUp(inst.State):
			live = append(live, name)
		case err == nil || errors.Is(err, store.ErrNotFound):
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
	clear(c.runClaims)
	clear(c.claimHolds)
	for n := range snap.Instances {
		in := &snap.Instances[n]
		if in.Ran == nil || in.Runner != core.RunnerActive || !machineUp(in.State) {
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
		// Busy on its own word, named by the forge since or not: the
		// poller's question is which runner has the run (ClaimedRun).
		if c.runClaims == nil {
			c.runClaims = map[runKey][]string{}
		}
		k := runKey{entityID, in.Ran.RunID}
		c.runClaims[k] = append(c.runClaims[k], in.Name)
		if in.JobID != 0 {
			continue // the forge named its job: nothing to hold
		}
		listed, ok := c.polled[entityID]
		if !ok || !in.RanAt.After(listed) {
			continue
		}
		out = append(out, spentRunner{entityID: entityID, poolID: in.PoolID, size: in.Size, at: in.RanAt,
			ran: in.Ran, claim: true})
		if c.claimHolds == nil {
			c.claimHolds = map[string]int{}
		}
		c.claimHolds[entityID]++
	}
	return out
}
