package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/usage"
)

// maxUsageWindow bounds one report, so a request cannot make the server
// read the whole usage history at once.
const maxUsageWindow = 366 * 24 * time.Hour

// UsageReport is GET /api/v1/usage: machine time and cost grouped by tenant,
// entity, pool or day, with the saving against the reference prices.
type UsageReport struct {
	GroupBy string      `json:"group_by"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Rows    []usage.Row `json:"rows"`
}

var usageGroups = []string{"tenant", "entity", "pool", "day"}

func (s *server) getUsage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	rep := UsageReport{GroupBy: q.Get("group"), To: time.Now().UTC()}
	if rep.GroupBy == "" {
		rep.GroupBy = "tenant"
	}
	if !slices.Contains(usageGroups, rep.GroupBy) {
		s.fail(w, r, badRequest("group %q is unknown; use one of %s", rep.GroupBy, join(usageGroups)))
		return
	}
	var err error
	if v := q.Get("to"); v != "" {
		if rep.To, err = parseDay(v); err != nil {
			s.fail(w, r, badRequest("to %q: want a date (2026-11-30) or an RFC 3339 time", v))
			return
		}
	}
	rep.From = rep.To.Add(-31 * 24 * time.Hour)
	if v := q.Get("from"); v != "" {
		if rep.From, err = parseDay(v); err != nil {
			s.fail(w, r, badRequest("from %q: want a date (2026-11-01) or an RFC 3339 time", v))
			return
		}
	}
	if !rep.From.Before(rep.To) || rep.To.Sub(rep.From) > maxUsageWindow {
		s.fail(w, r, badRequest("from must be before to, and at most 366 days before it"))
		return
	}
	f := store.UsageFilter{From: rep.From, To: rep.To}
	names, err := s.usageNames(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ref := q.Get("tenant"); ref != "" {
		f.TenantID = core.DefaultTenant
		if ref != core.DefaultTenant {
			t, err := s.opts.Store.GetTenant(ctx, ref)
			if err != nil {
				s.fail(w, r, refErr("tenant", ref, err))
				return
			}
			f.TenantID = t.ID
		}
	}
	if ref := q.Get("entity"); ref != "" {
		e, err := s.opts.Store.GetEntity(ctx, ref)
		if err != nil {
			s.fail(w, r, refErr("entity", ref, err))
			return
		}
		f.EntityID = e.ID
	}
	if ref := q.Get("pool"); ref != "" {
		p, err := s.opts.Store.GetPool(ctx, ref)
		if err != nil {
			s.fail(w, r, refErr("pool", ref, err))
			return
		}
		f.PoolID = p.ID
	}
	us, err := s.opts.Store.ListUsage(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	key := map[string]func(core.Usage) string{
		"tenant": func(u core.Usage) string { return names.of(u.TenantID) },
		"entity": func(u core.Usage) string { return names.of(u.EntityID) },
		"pool":   func(u core.Usage) string { return names.of(u.PoolID) },
		"day":    usage.ByDay,
	}[rep.GroupBy]
	rep.Rows = usage.Summarize(us, key)
	if rep.Rows == nil {
		rep.Rows = []usage.Row{}
	}
	writeJSON(w, http.StatusOK, rep)
}

// idNames maps tenant, entity and pool ids to names; an id whose object is
// gone shows as itself.
type idNames map[string]string

func (n idNames) of(id string) string {
	if name, ok := n[id]; ok {
		return name
	}
	return id
}

func (s *server) usageNames(ctx context.Context) (idNames, error) {
	n := idNames{}
	ts, err := s.opts.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		n[t.ID] = t.Name
	}
	es, err := s.opts.Store.ListEntities(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		n[e.ID] = e.Name
	}
	ps, err := s.opts.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		n[p.ID] = p.Name
	}
	return n, nil
}

func parseDay(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}
