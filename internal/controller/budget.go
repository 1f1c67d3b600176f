package controller

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// budgets keeps this month's machine-minutes per tenant id for the
// scheduler's budget check (scheduler.Snapshot.BudgetUsed): read from the
// usage records once per month, then kept up by recordUsage, so a decision
// does not scan the usage table.
type budgets struct {
	mu       sync.Mutex
	month    time.Time // first instant of the month the sums are for; zero = not loaded
	used     map[string]float64
	warnings string // the last soft-budget warnings logged
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// budgetUsed returns, by tenant name, the minutes used this month; nil when
// no tenant has a budget (the common case costs nothing).
func (c *Controller) budgetUsed(ctx context.Context, now time.Time, tenants []core.Tenant) map[string]float64 {
	budgeted := false
	for _, t := range tenants {
		budgeted = budgeted || t.BudgetMinutes > 0
	}
	if !budgeted {
		return nil
	}
	b := &c.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	if m := monthOf(now); !b.month.Equal(m) {
		us, err := c.o.Store.ListUsage(ctx, store.UsageFilter{From: m})
		if err != nil {
			c.log.Error("read usage for budgets", "err", err)
			return nil
		}
		b.month, b.used = m, map[string]float64{}
		for _, u := range us {
			b.used[u.TenantID] += u.MachineSeconds() / 60
		}
	}
	out := make(map[string]float64, len(tenants))
	for _, t := range tenants {
		key := t.ID
		if t.Name == core.DefaultTenant {
			key = core.DefaultTenant
		}
		out[t.Name] = b.used[key]
	}
	return out
}

// addUsage counts a fresh usage record into this month's sums.
func (c *Controller) addUsage(u core.Usage) {
	b := &c.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.month.IsZero() && monthOf(u.EndedAt).Equal(b.month) {
		b.used[u.TenantID] += u.MachineSeconds() / 60
	}
}

// warn logs the scheduler's warnings when they change, not on every decision.
func (c *Controller) warn(ws []string) {
	joined := strings.Join(ws, "\n")
	b := &c.budget
	b.mu.Lock()
	changed := joined != b.warnings
	b.warnings = joined
	b.mu.Unlock()
	if changed {
		for _, w := range ws {
			c.log.Warn(w)
		}
	}
}
