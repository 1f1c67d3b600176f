package ui

import (
	"context"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/usage"
)

// usageWindow is what the Usage page sums: the last 31 days, like
// `paddock usage` without --from.
const usageWindow = 31 * 24 * time.Hour

// usageByTenant sums the usage records of the window per tenant (by name).
func (h *Handler) usageByTenant(ctx context.Context, now time.Time) ([]usage.Row, error) {
	us, err := h.o.Store.ListUsage(ctx, store.UsageFilter{From: now.Add(-usageWindow), To: now})
	if err != nil {
		return nil, err
	}
	ts, err := h.o.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{core.DefaultTenant: core.DefaultTenant}
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	return usage.Summarize(us, func(u core.Usage) string {
		if n, ok := names[u.TenantID]; ok {
			return n
		}
		return u.TenantID
	}), nil
}
