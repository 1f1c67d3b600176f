package controller

import (
	"context"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// Retention sets how long finished history is kept (see core's Retention
// constants for the floors and why). Zero fields take the defaults; values
// below a floor are raised to it.
type Retention struct {
	Jobs       time.Duration // completed jobs, from their last change
	Instances  time.Duration // deleted instances, from their deletion
	Deliveries time.Duration // webhook delivery ids, from their arrival
}

func horizon(d, def, floor time.Duration) time.Duration {
	if d == 0 {
		d = def
	}
	return max(d, floor)
}

// housekeep prunes history past its retention horizon. It runs with the
// periodic reconcile, off the hot path; the store deletes in small batches
// so webhook and controller writes are never stuck behind a long purge.
func (c *Controller) housekeep(ctx context.Context) {
	now, r := c.o.Now(), c.o.Retention
	purges := []struct {
		what  string
		keep  time.Duration
		purge func(context.Context, time.Time) (int, error)
	}{
		{"jobs", horizon(r.Jobs, core.DefaultJobRetention, core.MinJobRetention), c.o.Store.PurgeJobs},
		{"instances", horizon(r.Instances, core.DefaultInstanceRetention, core.MinInstanceRetention), c.o.Store.PurgeInstances},
		{"deliveries", horizon(r.Deliveries, core.DefaultDeliveryRetention, core.MinDeliveryRetention), c.o.Store.PurgeDeliveries},
	}
	for _, p := range purges {
		n, err := p.purge(ctx, now.Add(-p.keep))
		if err != nil {
			c.log.Warn("housekeeping: purge", "what", p.what, "err", err)
			continue
		}
		if n > 0 {
			c.log.Info("housekeeping: purged", "what", p.what, "rows", n, "older_than", p.keep)
		}
	}
}
