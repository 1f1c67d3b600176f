package api

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// Instances and jobs are the controller's to change: the API only reads them,
// except for asking the controller to delete an instance.

func (s *server) poolNames(ctx context.Context) (map[string]string, error) {
	ps, err := s.opts.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m, nil
}

func (s *server) listInstances(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := store.InstanceFilter{Live: true}
	if v := q.Get("all"); v != "" {
		all, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(w, r, badRequest("all=%q must be true or false", v))
			return
		}
		f.Live = !all
	}
	if ref := q.Get("pool"); ref != "" {
		p, err := s.opts.Store.GetPool(ctx, ref)
		if err != nil {
			s.fail(w, r, refErr("pool", ref, err))
			return
		}
		f.PoolID = p.ID
	}
	for _, st := range q["state"] {
		if !core.InstanceState(st).Valid() {
			s.fail(w, r, badRequest("state %q is unknown; use one of %s", st, join(core.InstanceStates)))
			return
		}
		f.States = append(f.States, core.InstanceState(st))
		if st == string(core.InstanceDeleted) {
			f.Live = false // asking for deleted ones implies wanting them
		}
	}
	page, err := pageOf(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	is, next, err := s.opts.Store.ListInstancesPage(ctx, f, page)
	if err != nil {
		s.fail(w, r, pageErr(err))
		return
	}
	names, err := s.poolNames(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]InstanceView, 0, len(is))
	for _, i := range is {
		out = append(out, InstanceView{Instance: i, Pool: names[i.PoolID]})
	}
	setNext(w, r, next)
	writeJSON(w, http.StatusOK, out)
}

func (s *server) instanceView(ctx context.Context, ref string) (InstanceView, error) {
	i, err := s.opts.Store.GetInstance(ctx, ref)
	if err != nil {
		return InstanceView{}, refErr("instance", ref, err)
	}
	names, err := s.poolNames(ctx)
	if err != nil {
		return InstanceView{}, err
	}
	return InstanceView{Instance: i, Pool: names[i.PoolID]}, nil
}

func (s *server) getInstance(w http.ResponseWriter, r *http.Request) {
	v, err := s.instanceView(r.Context(), r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *server) deleteInstance(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	if s.opts.DeleteInstance == nil {
		writeError(w, http.StatusNotImplemented, "instance deletion is not available on this server")
		return
	}
	i, err := s.opts.Store.GetInstance(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("instance", ref, err))
		return
	}
	if err := s.opts.DeleteInstance(r.Context(), i.Name); err != nil {
		s.fail(w, r, refErr("instance", i.Name, err))
		return
	}
	// The controller removes the machine asynchronously; answer with where it stands now.
	v, err := s.instanceView(r.Context(), i.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, v)
}

func (s *server) listJobs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var f store.JobFilter
	for _, st := range q["state"] {
		if !core.JobState(st).Valid() {
			s.fail(w, r, badRequest("state %q is unknown; use one of %s", st, join(core.JobStates)))
			return
		}
		f.States = append(f.States, core.JobState(st))
	}
	page, err := pageOf(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ref := q.Get("entity"); ref != "" {
		e, err := s.opts.Store.GetEntity(ctx, ref)
		if err != nil {
			s.fail(w, r, refErr("entity", ref, err))
			return
		}
		f.EntityID = e.ID
	}
	js, next, err := s.opts.Store.ListJobsPage(ctx, f, page)
	if err != nil {
		s.fail(w, r, pageErr(err))
		return
	}
	views, err := s.jobViews(ctx, js)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setNext(w, r, next)
	writeJSON(w, http.StatusOK, views)
}

// getJob finds a job by id. Job ids are only unique per forge, so with
// several matches the caller must say which entity it means.
func (s *server) getJob(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		// Forge job ids are positive; negative ones are Paddock's own
		// scale-set placeholders, never addressed from outside.
		s.fail(w, r, badRequest("job id %q must be a positive integer", raw))
		return
	}
	f := store.JobFilter{ID: id}
	if ref := r.URL.Query().Get("entity"); ref != "" {
		e, err := s.opts.Store.GetEntity(ctx, ref)
		if err != nil {
			s.fail(w, r, refErr("entity", ref, err))
			return
		}
		f.EntityID = e.ID
	}
	hits, err := s.opts.Store.ListJobs(ctx, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views, err := s.jobViews(ctx, hits)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch len(views) {
	case 0:
		s.fail(w, r, refErr("job", raw, store.ErrNotFound))
	case 1:
		writeJSON(w, http.StatusOK, views[0])
	default:
		ents := make([]string, 0, len(views))
		for _, v := range views {
			ents = append(ents, v.Entity)
		}
		sort.Strings(ents)
		s.fail(w, r, conflict(
			"job %d exists for several entities (%s); add ?entity=<name> to choose", id, strings.Join(ents, ", ")))
	}
}

func (s *server) jobViews(ctx context.Context, js []core.Job) ([]JobView, error) {
	pools, err := s.poolNames(ctx)
	if err != nil {
		return nil, err
	}
	es, err := s.opts.Store.ListEntities(ctx)
	if err != nil {
		return nil, err
	}
	ents := make(map[string]string, len(es))
	for _, e := range es {
		ents[e.ID] = e.Name
	}
	out := make([]JobView, 0, len(js))
	for _, j := range js {
		out = append(out, JobView{Job: j, Entity: ents[j.EntityID], Pool: pools[j.PoolID]})
	}
	return out, nil
}

func join[T ~string](xs []T) string {
	ss := make([]string, len(xs))
	for i, x := range xs {
		ss[i] = string(x)
	}
	return strings.Join(ss, ", ")
}
