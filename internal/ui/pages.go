package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/scheduler"
	"github.com/paddock-ci/paddock/internal/store"
)

// pageSize is how many rows a list page shows.
const pageSize = 100

func (h *Handler) health() map[string]scheduler.PoolHealth {
	if h.o.PoolHealth == nil {
		return nil
	}
	return h.o.PoolHealth()
}

func (h *Handler) poolNames(ctx context.Context) (map[string]string, []core.Pool, error) {
	ps, err := h.o.Store.ListPools(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(ps))
	for _, p := range ps {
		names[p.ID] = p.Name
	}
	return names, ps, nil
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, s session) {
	d, err := h.overviewData(r.Context())
	if err != nil {
		h.fail(w, r, "the overview", err)
		return
	}
	h.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Sess: s, Self: r.URL.RequestURI(), Data: d})
}

type poolRow struct {
	core.Pool
	Live, Idle, Busy, Booting int
	Failing                   bool
	Health                    scheduler.PoolHealth
	Failures                  []core.Instance // recent instances with a fault
}

func (h *Handler) pools(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	_, ps, err := h.poolNames(ctx)
	if err != nil {
		h.fail(w, r, "pools", err)
		return
	}
	all, err := h.o.Store.ListInstances(ctx, store.InstanceFilter{})
	if err != nil {
		h.fail(w, r, "instances", err)
		return
	}
	health := h.health()
	rows := make([]poolRow, 0, len(ps))
	for _, p := range ps {
		row := poolRow{Pool: p}
		if hl, ok := health[p.ID]; ok && hl.Failing() {
			row.Failing, row.Health = true, hl
		}
		for _, i := range all {
			if i.PoolID != p.ID {
				continue
			}
			if i.Fault != "" {
				row.Failures = append(row.Failures, i)
			}
			if !i.State.Live() {
				continue
			}
			row.Live++
			switch {
			case i.State == core.InstanceError:
				// listed under recent failures, not booting
			case i.State == core.InstanceRunning && i.Runner == core.RunnerIdle:
				row.Idle++
			case i.Runner == core.RunnerActive:
				row.Busy++
			case i.State == core.InstancePendingCreate || i.State == core.InstanceCreating || i.Runner == core.RunnerPending || i.Runner == core.RunnerInstalling:
				row.Booting++
			}
		}
		sort.Slice(row.Failures, func(a, b int) bool { return row.Failures[a].UpdatedAt.After(row.Failures[b].UpdatedAt) })
		row.Failures = row.Failures[:min(len(row.Failures), 5)]
		rows = append(rows, row)
	}
	h.render(w, r, http.StatusOK, "pools", page{Title: "Pools", Nav: "pools", Sess: s, Self: r.URL.RequestURI(),
		Flash: r.URL.Query().Get("done"), Data: rows})
}

type jobRow struct {
	core.Job
	Pool                    string
	Waited, Running, RanFor time.Duration
}

type jobsData struct {
	Tab    string
	Rows   []jobRow
	Next   string
	Counts map[string]int
}

var jobTabs = map[string]core.JobState{"queued": core.JobQueued, "running": core.JobInProgress, "done": core.JobCompleted}

func (h *Handler) jobs(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	q := r.URL.Query()
	tab := q.Get("tab")
	if _, ok := jobTabs[tab]; !ok {
		tab = "queued"
	}
	names, _, err := h.poolNames(ctx)
	if err != nil {
		h.fail(w, r, "pools", err)
		return
	}
	jobs, next, err := h.o.Store.ListJobsPage(ctx, store.JobFilter{States: []core.JobState{jobTabs[tab]}},
		store.Page{Limit: pageSize, Cursor: q.Get("cursor")})
	if errors.Is(err, store.ErrBadCursor) {
		http.Redirect(w, r, "/ui/jobs?tab="+tab, http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, "jobs", err)
		return
	}
	now := h.o.Now()
	d := jobsData{Tab: tab, Counts: map[string]int{}}
	for _, j := range jobs {
		row := jobRow{Job: j, Pool: names[j.PoolID]}
		if w, ok := jobWait(j); ok {
			row.Waited = w
		} else {
			row.Waited = waitingFor(j, now)
		}
		if !j.StartedAt.IsZero() {
			end := j.CompletedAt
			if end.IsZero() {
				end = now
			}
			row.RanFor = end.Sub(j.StartedAt)
		}
		d.Rows = append(d.Rows, row)
	}
	for _, t := range []string{"queued", "running"} {
		js, err := h.o.Store.ListJobs(ctx, store.JobFilter{States: []core.JobState{jobTabs[t]}})
		if err != nil {
			h.fail(w, r, "jobs", err)
			return
		}
		d.Counts[t] = len(js)
	}
	if next != "" {
		d.Next = "/ui/jobs?" + url.Values{"tab": {tab}, "cursor": {next}}.Encode()
	}
	h.render(w, r, http.StatusOK, "jobs", page{Title: "Jobs", Nav: "jobs", Sess: s, Self: r.URL.RequestURI(), Data: d})
}

type instancesData struct {
	Rows    []core.Instance
	Pools   map[string]string
	PoolIDs []core.Pool
	State   string
	Pool    string
	Deleted bool
	Next    string
	Shown   int
}

func (h *Handler) instances(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	q := r.URL.Query()
	names, ps, err := h.poolNames(ctx)
	if err != nil {
		h.fail(w, r, "pools", err)
		return
	}
	d := instancesData{Pools: names, PoolIDs: ps, State: q.Get("state"), Pool: q.Get("pool"), Deleted: q.Get("deleted") != ""}
	f := store.InstanceFilter{Live: !d.Deleted}
	if d.State != "" {
		st := core.InstanceState(d.State)
		if !st.Valid() {
			h.render(w, r, http.StatusBadRequest, "message", page{Title: "Unknown state", Sess: s,
				Message: "There is no instance state " + d.State + "; pick one from the list."})
			return
		}
		f.States = []core.InstanceState{st}
		f.Live = f.Live && st.Live()
	}
	for _, p := range ps {
		if p.Name == d.Pool || p.ID == d.Pool {
			f.PoolID = p.ID
		}
	}
	rows, next, err := h.o.Store.ListInstancesPage(ctx, f, store.Page{Limit: pageSize, Cursor: q.Get("cursor")})
	if errors.Is(err, store.ErrBadCursor) {
		http.Redirect(w, r, "/ui/instances", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.fail(w, r, "instances", err)
		return
	}
	d.Rows, d.Shown = rows, len(rows)
	if next != "" {
		nq := url.Values{"cursor": {next}}
		for _, k := range []string{"state", "pool", "deleted"} {
			if v := q.Get(k); v != "" {
				nq.Set(k, v)
			}
		}
		d.Next = "/ui/instances?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "instances", page{Title: "Instances", Nav: "instances", Sess: s, Self: r.URL.RequestURI(), Data: d})
}

type instanceData struct {
	core.Instance
	Pool     string
	Timeline []eventRow
}

func (h *Handler) instance(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	inst, err := h.o.Store.GetInstance(ctx, r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		h.render(w, r, http.StatusNotFound, "message", page{Title: "No such instance", Sess: s,
			Message: "There is no instance " + r.PathValue("name") + " (it may have been purged)."})
		return
	}
	if err != nil {
		h.fail(w, r, "the instance", err)
		return
	}
	names, _, err := h.poolNames(ctx)
	if err != nil {
		h.fail(w, r, "pools", err)
		return
	}
	d := instanceData{Instance: inst, Pool: names[inst.PoolID]}
	if d.Timeline, err = h.recentEvents(ctx, 200, inst.Name, eventWindow); err != nil {
		h.fail(w, r, "events", err)
		return
	}
	slices.Reverse(d.Timeline) // oldest first reads as a timeline
	h.render(w, r, http.StatusOK, "instance", page{Title: inst.Name, Nav: "instances", Sess: s, Self: r.URL.RequestURI(),
		Flash: r.URL.Query().Get("done"), Data: d})
}

func (h *Handler) usage(w http.ResponseWriter, r *http.Request, s session) {
	rows, err := h.usageByTenant(r.Context(), time.Now())
	if err != nil {
		h.fail(w, r, "usage", err)
		return
	}
	h.render(w, r, http.StatusOK, "usage", page{Title: "Usage and cost", Nav: "usage", Sess: s, Data: rows})
}
