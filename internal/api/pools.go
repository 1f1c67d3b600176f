package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
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
	// Entities (ids or names) and Tenants (names, "*" = all) share the pool
	// (docs/sharing.md); [] unshares.
	Entities *[]string `json:"entities"`
	Tenants  *[]string `json:"tenants"`
}

// given reports whether the body wrote a field (by JSON key), for defaults.
func (in poolInput) given(field string) bool {
	switch field {
	case "max_runners":
		return in.MaxRunners != nil
	case "bootstrap_timeout":
		return rawGiven(in.BootstrapTimeout)
	case "max_job_runtime":
		return rawGiven(in.MaxJobRuntime)
	case "enabled":
		return in.Enabled != nil
	}
	return false
}

func rawGiven(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// apply merges the input into p; duration fields that do not parse are
// returned as field errors.
func (in poolInput) apply(p *core.Pool) check.Errors {
	set(&p.Name, in.Name)
	set(&p.Provider, in.Provider)
	set(&p.Image, in.Image)
	set(&p.Flavor, in.Flavor)
	set(&p.OSType, in.OSType)
	set(&p.Arch, in.Arch)
	if in.Labels != nil {
		p.Labels = slices.Clone(*in.Labels)
	}
	set(&p.MinIdle, in.MinIdle)
	set(&p.MaxRunners, in.MaxRunners)
	set(&p.FreeTargetPercent, in.FreeTargetPercent)
	set(&p.Priority, in.Priority)
	set(&p.RunnerGroup, in.RunnerGroup)
	set(&p.RunnerPrefix, in.RunnerPrefix)
	set(&p.Enabled, in.Enabled)
	if in.Sizes != nil {
		z := *in.Sizes
		p.Sizes = &z
	}
	var errs check.Errors
	for _, d := range []struct {
		field string
		dst   *time.Duration
		raw   json.RawMessage
	}{{"bootstrap_timeout", &p.BootstrapTimeout, in.BootstrapTimeout}, {"max_job_runtime", &p.MaxJobRuntime, in.MaxJobRuntime}} {
		if !rawGiven(d.raw) {
			continue
		}
		v, err := parseDuration(d.raw)
		if err != nil {
			errs = append(errs, check.FieldError{Field: d.field, Message: err.Error()})
			continue
		}
		*d.dst = v
	}
	return append(errs, applyProviderSettings(in, p)...)
}

// resolveEntity finds the entity a pool input names, as a field error if it
// does not exist.
func (s *server) resolveEntity(ctx context.Context, ref string) (core.Entity, check.Errors, error) {
	if ref == "" {
		return core.Entity{}, check.Errors{{Field: "entity", Message: "required (an entity name such as owner/repo, or its id)"}}, nil
	}
	e, err := s.opts.Store.GetEntity(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return e, check.Errors{{Field: "entity", Message: fmt.Sprintf("entity %q does not exist (see paddock entity list)", ref)}}, nil
	}
	return e, nil, err
}

// providerProblem is what only the server knows: whether a provider is
// configured here.
func (s *server) providerProblem(name string) check.Errors {
	if name != "" && s.opts.Providers != nil && !slices.Contains(s.opts.Providers, name) {
		return check.Errors{{Field: "provider", Message: fmt.Sprintf(
			"provider %q is not configured; configured providers: %s", name, strings.Join(s.opts.Providers, ", "))}}
	}
	return nil
}

// poolETag is the pool's entity tag: a hash of everything stored about it
// (UpdatedAt included, so every write changes it). Instance counts in the
// view are not part of it.
func poolETag(p core.Pool) string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// ifMatch reports whether an If-Match header value allows writing a pool
// whose current tag is etag (RFC 9110 §13.1.1: strong comparison, "*" for
// any current representation; an absent header allows anything).
func ifMatch(header []string, etag string) bool {
	if len(header) == 0 {
		return true
	}
	for _, h := range header {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || t == etag {
				return true
			}
		}
	}
	return false
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
		s.addHealth(&v)
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
		w.Header().Set("ETag", poolETag(ps[0]))
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
	var p core.Pool
	errs := in.apply(&p)
	check.PoolDefaults(&p, in.given)
	ref := ""
	if in.Entity != nil {
		ref = *in.Entity
	}
	e, eerrs, err := s.resolveEntity(r.Context(), ref)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.EntityID = e.ID
	ents, tens, serrs, err := s.resolveSharing(r.Context(), in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	setSharing(&p, ents, tens)
	errs = append(append(append(append(errs, eerrs...), serrs...), check.Pool(p)...), s.providerProblem(p.Provider)...)
	if len(errs) > 0 {
		s.fail(w, r, invalid("pool", errs))
		return
	}
	if err := s.opts.Store.CreatePool(r.Context(), &p); err != nil {
		s.fail(w, r, nameTaken("pool", p.Name, err))
		return
	}
	s.changed()
	s.writePools(w, r, http.StatusCreated, []core.Pool{p}, true)
}

// updatePool applies a PATCH inside one store transaction, so concurrent
// patches of different fields both land; If-Match makes a client's
// read-modify-write safe too (412 when the pool changed since it read it).
//
// The result must pass the same check as a create, except as
// check.PoolChange allows (disabling a pool stored invalid by an older version).
func (s *server) updatePool(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	var in poolInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	var entity *core.Entity
	if in.Entity != nil {
		e, eerrs, err := s.resolveEntity(r.Context(), *in.Entity)
		if err != nil || len(eerrs) > 0 {
			s.fail(w, r, cmp.Or(err, invalid("pool", eerrs).Err()))
			return
		}
		entity = &e
	}
	ents, tens, serrs, err := s.resolveSharing(r.Context(), in)
	if err != nil || len(serrs) > 0 {
		s.fail(w, r, cmp.Or(err, invalid("pool", serrs).Err()))
		return
	}
	p, err := s.opts.Store.ModifyPool(r.Context(), ref, func(p *core.Pool) error {
		if !ifMatch(r.Header.Values("If-Match"), poolETag(*p)) {
			return &statusError{code: http.StatusPreconditionFailed,
				msg: fmt.Sprintf("pool %q changed since you read it (If-Match does not match its ETag %s); read it again and retry", p.Name, poolETag(*p))}
		}
		check.PoolStored(p)
		before := *p
		if errs := in.apply(p); len(errs) > 0 {
			return invalid("pool", errs)
		}
		if entity != nil {
			p.EntityID = entity.ID
		}
		setSharing(p, ents, tens)
		errs := check.PoolChange(before, *p)
		if p.Provider != before.Provider {
			errs = append(errs, s.providerProblem(p.Provider)...)
		}
		return invalid("pool", errs).Err()
	})
	if err != nil {
		s.fail(w, r, nameTaken("pool", in.nameOr(ref), refErr("pool", ref, err)))
		return
	}
	s.changed()
	s.writePools(w, r, http.StatusOK, []core.Pool{p}, true)
}

func (in poolInput) nameOr(ref string) string {
	if in.Name != nil {
		return *in.Name
	}
	return ref
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

func setSharing(p *core.Pool, entities, tenants *[]string) {
	if entities != nil {
		p.Entities = *entities
	}
	if tenants != nil {
		p.Tenants = *tenants
	}
}
