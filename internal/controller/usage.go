package controller

import (
	"context"
	"slices"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/usage"
)

// recordUsage writes what a machine cost, once its provider has removed it
// and before the instance is marked deleted: a crash in between repeats it,
// and the store keeps the first record (RecordUsage is keyed by name).
// Without a price table nothing is recorded; with one, a machine whose
// flavor has no price is recorded with a note, logged and counted.
func (c *Controller) recordUsage(ctx context.Context, inst core.Instance, pool core.Pool) {
	if c.o.Prices == nil {
		return
	}
	entity := inst.EntityID
	if entity == "" {
		entity = pool.EntityID
	}
	flavor := pool.Flavor
	if f, ok := pool.Flavors[inst.Size]; ok && inst.Size != "" {
		flavor = f
	}
	l := usage.Life{Instance: inst.Name, PoolID: pool.ID, EntityID: entity, JobID: inst.JobID,
		Provider: pool.Provider, Flavor: flavor, OS: pool.OSType, CPU: inst.CPU,
		Created: inst.CreatedAt, Online: inst.OnlineAt, Gone: c.o.Now()}
	tenant := core.DefaultTenant
	if ts, err := c.o.Store.ListTenants(ctx); err == nil {
		for _, t := range ts {
			if slices.Contains(t.Entities, entity) {
				l.TenantID, tenant = t.ID, t.Name
			}
		}
	}
	if l.TenantID == "" {
		l.TenantID = core.DefaultTenant
	}
	if inst.JobID != 0 {
		if j, err := c.o.Store.GetJob(ctx, entity, inst.JobID); err == nil {
			l.JobStart, l.JobDone = j.StartedAt, j.CompletedAt
		}
		if l.JobStart.IsZero() {
			// The forge never told us the start: the machine was busy from
			// when it came online.
			l.JobStart = l.Online
		}
	}
	u := usage.Compute(l, *c.o.Prices)
	fresh, err := c.o.Store.RecordUsage(ctx, &u)
	if err != nil {
		c.log.Error("record usage", "instance", inst.Name, "err", err)
		return
	}
	if !fresh {
		return // recorded before a crash; counted then
	}
	c.addUsage(u)
	if u.Note != "" {
		c.log.Warn("machine has no price; its cost is unknown", "instance", inst.Name, "pool", pool.Name,
			"provider", u.Provider, "flavor", u.Flavor, "note", u.Note)
	}
	if m := c.o.Metrics; m != nil && m.Usage != nil {
		if u.Note != "" {
			m.Usage.MissingPrice.WithLabelValues(u.Provider, u.Flavor).Inc()
		}
		ms := m.Usage.MachineSeconds
		if u.Overhead() {
			ms.WithLabelValues(tenant, pool.Name, "overhead").Add(u.MachineSeconds())
		} else {
			ms.WithLabelValues(tenant, pool.Name, "boot").Add(u.BootSeconds)
			ms.WithLabelValues(tenant, pool.Name, "wait").Add(u.WaitSeconds)
			ms.WithLabelValues(tenant, pool.Name, "run").Add(u.RunSeconds)
		}
		m.Usage.Cost.WithLabelValues(tenant, pool.Name).Add(u.Cost)
		m.Usage.ReferenceCost.WithLabelValues(tenant, pool.Name).Add(u.ReferenceCost)
	}
}
