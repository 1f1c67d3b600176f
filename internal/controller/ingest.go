package controller

import (
	"context"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// listingGrace protects a job that reached Paddock by webhook from being
// retired by a listing that does not show it yet (forge listings lag events).
const listingGrace = time.Minute

// IngestQueued takes the queued jobs a poll listed for ent: new ones are
// stored and wake the loop at once. When complete is true (the listing was
// not cut short by a call budget), queued jobs the forge no longer lists are
// retired: at once if an earlier listing showed them (they have since
// started, finished or been cancelled), after listingGrace otherwise. It
// returns how many jobs were new.
func (c *Controller) IngestQueued(ctx context.Context, ent core.Entity, jobs []core.Job, complete bool) (int, error) {
	now := c.o.Now()
	atForge := make(map[int64]bool, len(jobs))
	added, retired := 0, 0
	defer func() {
		if added+retired > 0 {
			c.Notify()
		}
	}()
	for _, j := range jobs {
		atForge[j.ID] = true
		if c.servedByScaleSet(ctx, ent.ID, j.Labels) {
			continue
		}
		j.EntityID, j.State = ent.ID, core.JobQueued
		if j.ReceivedAt.IsZero() {
			j.ReceivedAt = now
		}
		key := jobKey{ent.ID, j.ID}
		// Noted before the job is stored, as for webhooks: a step running in
		// between must already see when the job arrived.
		c.mu.Lock()
		_, seen := c.arrivals[key]
		if !seen {
			c.arrivals[key] = now
		}
		c.mu.Unlock()
		changed, err := c.o.Store.UpsertJob(ctx, &j)
		if err != nil || !changed {
			if !seen {
				c.forgetArrival(ent.ID, j.ID)
			}
			if err != nil {
				return added, err
			}
			continue
		}
		added++
		c.log.Info("poll: found queued job", "entity", ent.Name, "job", j.ID, "intake", ent.Intake)
	}
	prev := c.noteListed(ent.ID, atForge, complete)
	if !complete {
		return added, nil
	}
	mine, err := c.o.Store.ListJobs(ctx, store.JobFilter{EntityID: ent.ID, States: []core.JobState{core.JobQueued}})
	if err != nil {
		return added, err
	}
	for _, j := range mine {
		if atForge[j.ID] || (!prev[j.ID] && now.Sub(j.ReceivedAt) < listingGrace) {
			continue
		}
		if c.servedByScaleSet(ctx, ent.ID, j.Labels) {
			continue // the scale-set listener owns these jobs and their ids
		}
		done := j
		done.State, done.CompletedAt = core.JobCompleted, now
		done.Note = "no longer queued at the forge"
		if _, err := c.o.Store.UpsertJob(ctx, &done); err != nil {
			return added, err
		}
		c.forgetArrival(ent.ID, j.ID)
		retired++
	}
	return added, nil
}

// noteListed records which jobs the latest listing of an entity showed and
// returns the previous set. An incomplete listing only adds to the set.
func (c *Controller) noteListed(entityID string, now map[int64]bool, complete bool) map[int64]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listed == nil {
		c.listed = map[string]map[int64]bool{}
	}
	prev := c.listed[entityID]
	if complete {
		c.listed[entityID] = now
		return prev
	}
	merged := make(map[int64]bool, len(prev)+len(now))
	for id := range prev {
		merged[id] = true
	}
	for id := range now {
		merged[id] = true
	}
	c.listed[entityID] = merged
	return prev
}
