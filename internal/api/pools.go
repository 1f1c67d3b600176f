package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// Defaults for fields a pool create leaves out. max_runners defaults low on
// purpose: a forgotten flag should not be able to run up a cloud bill.
const (
	defaultMaxRunners       = 1
	defaultBootstrapTimeout = 20 * time.Minute
	defaultMaxJobRuntime    = 6 * time.Hour
)

// poolInput is a create or PATCH body; nil fields are left unchanged.
// Durations stay raw so a bad one is reported with its field name.
type poolInput struct {
	Name              *string          `json:"name"`
	Entity            *string          `json:"entity"` // entity id or name
	Provider          *string          `json:"provider"`
	Image             *string          `json:"image"`
	Flavor            *string          `json:"flavor"`
	OSType            *string          `json:"os_type"`
	Arch              *string          `json:"arch"`
	Labels            *[]string        `json:"labels"`
	MinIdle           *int             `json:"min_idle"`
	MaxRunners        *int             `json:"max_runners"`
	FreeTargetPercent *int             `json:"free_target_percent"`
	Priority          *int             `json:"priority"`
	BootstrapTimeout  json.RawMessage  `json:"bootstrap_timeout"`
	MaxJobRuntime     json.RawMessage  `json:"max_job_runtime"`
	RunnerGroup       *string          `json:"runner_group"`
	RunnerPrefix      *string          `json:"runner_prefix"`
	Sizes             *core.SizeLimits `json:"sizes"`
	Enabled           *bool            `json:"enabled"`
	// ExtraSpecs (a JSON object; null clears) and Flavors (size label →
	// provider flavor; {} clears) are handed to the provider.
	ExtraSpecs json.RawMessage    `json:"extra_specs"`
	Flavors    *map[string]string `json:"flavors"`
}

func (s *server) applyPool(ctx context.Context, in poolInput, p *core.Pool) (entity string, err error) {
	set(&p.Name, in.Name)
	set(&p.Provider, in.Provider)
	set(&p.Image, in.Image)
	set(&p.Flavor, in.Flavor)
	set(&p.OSType, in.OSType)
	set(&p.Arch, in.Arch)
	set(&p.Labels, in.Labels)
	set(&p.MinIdle, in.MinIdle)
	set(&p.MaxRunners, in.MaxRunners)
	set(&p.FreeTargetPercent, in.FreeTargetPercent)
	set(&p.Priority, in.Priority)
	set(&p.RunnerGroup, in.RunnerGroup)
	set(&p.RunnerPrefix, in.RunnerPrefix)
	set(&p.Enabled, in.Enabled)
	if in.Sizes != nil {
		p.Sizes = in.Sizes
	}
	if err := applyProviderSettings(in, p); err != nil {
		return "", err
	}
	if err := setDuration("bootstrap_timeout", &p.BootstrapTimeout, in.BootstrapTimeout); err != nil {
		return "", err
	}
	if err := setDuration("max_job_runtime", &p.MaxJobRuntime, in.MaxJobRuntime); err != nil {
		return "", err
	}
	ref := p.EntityID
	if in.Entity != nil {
		ref = *in.Entity
	}
	if ref == "" {
		return "", badRequest("entity is required")
	}
	e, err := s.opts.Store.GetEntity(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return "", badRequest("entity %q does not exist (see paddock entity list)", ref)
	} else if err != nil {
		return "", err
	}
	p.EntityID = e.ID
	return e.Name, s.validatePool(p)
}

func setDuration(field string, dst *time.Duration, raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	d, err := parseDuration(raw)
	if err != nil {
		return badRequest("%s: %v", field, err)
	}
	*dst = d
	return nil
}

func (s *server) validatePool(p *core.Pool) error {
	if err := validName("name", p.Name); err != nil {
		return err
	}
	if p.Provider == "" {
		return badRequest("provider is required")
	}
	if s.opts.Providers != nil && !slices.Contains(s.opts.Providers, p.Provider) {
		return badRequest("provider %q is not configured; configured providers: %s",
			p.Provider, strings.Join(s.opts.Providers, ", "))
	}
	if len(p.Labels) == 0 {
		return badRequest("labels must list at least one label")
	}
	seen := map[string]bool{}
	for i, l := range p.Labels {
		l = strings.TrimSpace(l)
		if l == "" || strings.ContainsAny(l, ", \t") {
			return badRequest("labels[%d] %q must be non-empty without spaces or commas", i, p.Labels[i])
		}
		// Forges match labels case-insensitively, so "Linux" and "linux" are one label.
		if seen[strings.ToLower(l)] {
			return badRequest("labels[%d] %q is listed twice", i, l)
		}
		seen[strings.ToLower(l)] = true
		p.Labels[i] = l
	}
	switch {
	case p.MaxRunners < 1:
		return badRequest("max_runners must be at least 1 (got %d); disable the pool instead with enabled=false", p.MaxRunners)
	case p.MinIdle < 0 || p.MinIdle > p.MaxRunners:
		return badRequest("min_idle must be between 0 and max_runners (%d), got %d", p.MaxRunners, p.MinIdle)
	case p.FreeTargetPercent < 0 || p.FreeTargetPercent > 100:
		return badRequest("free_target_percent must be between 0 and 100, got %d", p.FreeTargetPercent)
	case p.BootstrapTimeout <= 0:
		return badRequest("bootstrap_timeout must be positive, got %s", p.BootstrapTimeout)
	case p.MaxJobRuntime <= 0:
		return badRequest("max_job_runtime must be positive, got %s", p.MaxJobRuntime)
	}
	if z := p.Sizes; z != nil && (z.MaxCPU < 0 || z.MaxMemoryGB < 0 || z.MaxDiskGB < 0) {
		return badRequest("sizes limits must not be negative")
	}
	return nil
}

// poolViews decorates pools with entity names and instance counts.
func (s *server) poolViews(ctx context.Context, ps []core.Pool) ([]PoolView, error) {
	es, err := s.opts.Store.ListEntities(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(es))
	for _, e := range es {
		names[e.ID] = e.Name
	}
	is, err := s.opts.Store.ListInstances(ctx, store.InstanceFilter{Live: true})
	if err != nil {
		return nil, err
	}
	out := make([]PoolView, 0, len(ps))
	for _, p := range ps {
		v := poolView(p, names[p.EntityID])
		for _, i := range is {
			if i.PoolID == p.ID && i.State.Live() {
				v.Live++
				if countIdle(i) {
					v.Idle++
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *server) writePools(w http.ResponseWriter, r *http.Request, status int, ps []core.Pool, one bool) {
	vs, err := s.poolViews(r.Context(), ps)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if one {
		writeJSON(w, status, vs[0])
		return
	}
	writeJSON(w, status, vs)
}

func (s *server) listPools(w http.ResponseWriter, r *http.Request) {
	ps, err := s.opts.Store.ListPools(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writePools(w, r, http.StatusOK, ps, false)
}

func (s *server) getPool(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	p, err := s.opts.Store.GetPool(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("pool", ref, err))
		return
	}
	s.writePools(w, r, http.StatusOK, []core.Pool{p}, true)
}

func (s *server) createPool(w http.ResponseWriter, r *http.Request) {
	var in poolInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	p := core.Pool{Enabled: true, MaxRunners: defaultMaxRunners, OSType: "linux", Arch: "x64",
		BootstrapTimeout: defaultBootstrapTimeout, MaxJobRuntime: defaultMaxJobRuntime}
	if _, err := s.applyPool(r.Context(), in, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.CreatePool(r.Context(), &p); err != nil {
		s.fail(w, r, nameTaken("pool", p.Name, err))
		return
	}
	s.changed()
	s.writePools(w, r, http.StatusCreated, []core.Pool{p}, true)
}

func (s *server) updatePool(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	var in poolInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.opts.Store.GetPool(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("pool", ref, err))
		return
	}
	if _, err := s.applyPool(r.Context(), in, &p); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.UpdatePool(r.Context(), &p); err != nil {
		s.fail(w, r, nameTaken("pool", p.Name, err))
		return
	}
	s.changed()
	s.writePools(w, r, http.StatusOK, []core.Pool{p}, true)
}

func (s *server) deletePool(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	err := s.opts.Store.DeletePool(r.Context(), ref)
	if errors.Is(err, store.ErrConflict) {
		err = s.poolInUse(r, ref, err)
	}
	if err != nil {
		s.fail(w, r, refErr("pool", ref, err))
		return
	}
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

// poolInUse names the live instances that block a pool's deletion.
func (s *server) poolInUse(r *http.Request, ref string, err error) error {
	p, perr := s.opts.Store.GetPool(r.Context(), ref)
	if perr != nil {
		return err
	}
	is, lerr := s.opts.Store.ListInstances(r.Context(), store.InstanceFilter{PoolID: p.ID, Live: true})
	if lerr != nil {
		return err
	}
	names := make([]string, 0, len(is))
	for _, i := range is {
		names = append(names, i.Name)
	}
	return inUse("pool", p.Name, "live instances", names,
		"set enabled=false and wait for them to drain, or paddock instance delete", err)
}
