package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// tenantInput is a create or PATCH body; nil fields are left unchanged. A
// quota written as 0 is refused, as in the config file: leave it out on
// create for no limit (docs/sharing.md).
type tenantInput struct {
	Name          *string          `json:"name"`
	Entities      *[]string        `json:"entities"` // entity ids or names
	Weight        *int             `json:"weight"`
	MaxMachines   *int             `json:"max_machines"`
	MaxVCPU       *int             `json:"max_vcpu"`
	BudgetMinutes *int             `json:"budget_minutes"`
	BudgetMode    *core.BudgetMode `json:"budget_mode"`
}

func (in tenantInput) given(field string) bool {
	switch field {
	case "weight":
		return in.Weight != nil
	case "max_machines":
		return in.MaxMachines != nil
	case "max_vcpu":
		return in.MaxVCPU != nil
	case "budget_minutes":
		return in.BudgetMinutes != nil
	}
	return false
}

// TenantView is a tenant as the API shows it: its entities by name too.
type TenantView struct {
	core.Tenant
	EntityNames []string `json:"entity_names"`
}

// applyTenant merges the input into t, resolves entity references and checks
// the result.
func (s *server) applyTenant(ctx context.Context, in tenantInput, t *core.Tenant) error {
	set(&t.Name, in.Name)
	set(&t.Weight, in.Weight)
	set(&t.MaxMachines, in.MaxMachines)
	set(&t.MaxVCPU, in.MaxVCPU)
	set(&t.BudgetMinutes, in.BudgetMinutes)
	set(&t.BudgetMode, in.BudgetMode)
	var errs check.Errors
	if in.Entities != nil {
		t.Entities = []string{}
		for i, ref := range *in.Entities {
			e, err := s.opts.Store.GetEntity(ctx, ref)
			if errors.Is(err, store.ErrNotFound) {
				errs = append(errs, check.FieldError{Field: fmt.Sprintf("entities[%d]", i),
					Message: fmt.Sprintf("entity %q does not exist (see paddock entity list)", ref)})
				continue
			} else if err != nil {
				return err
			}
			t.Entities = append(t.Entities, e.ID)
		}
	}
	check.TenantDefaults(t, in.given)
	return invalid("tenant", append(errs, check.Tenant(*t, in.given)...)).Err()
}

func (s *server) tenantView(ctx context.Context, t core.Tenant) (TenantView, error) {
	v := TenantView{Tenant: t, EntityNames: []string{}}
	for _, id := range t.Entities {
		name := id
		if e, err := s.opts.Store.GetEntity(ctx, id); err == nil {
			name = e.Name
		}
		v.EntityNames = append(v.EntityNames, name)
	}
	return v, nil
}

func (s *server) writeTenant(w http.ResponseWriter, r *http.Request, status int, t core.Tenant) {
	v, err := s.tenantView(r.Context(), t)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

func (s *server) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.opts.Store.ListTenants(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]TenantView, 0, len(ts))
	for _, t := range ts {
		v, err := s.tenantView(r.Context(), t)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getTenant(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	t, err := s.opts.Store.GetTenant(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("tenant", ref, err))
		return
	}
	s.writeTenant(w, r, http.StatusOK, t)
}

func (s *server) createTenant(w http.ResponseWriter, r *http.Request) {
	var in tenantInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	var t core.Tenant
	if err := s.applyTenant(r.Context(), in, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.CreateTenant(r.Context(), &t); err != nil {
		s.fail(w, r, tenantConflict(t.Name, err))
		return
	}
	s.changed()
	s.writeTenant(w, r, http.StatusCreated, t)
}

// updateTenant applies a PATCH; raising a quota takes effect at once (the
// controller is notified, and decides again).
func (s *server) updateTenant(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	var in tenantInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.opts.Store.GetTenant(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("tenant", ref, err))
		return
	}
	if err := s.applyTenant(r.Context(), in, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.UpdateTenant(r.Context(), &t); err != nil {
		s.fail(w, r, tenantConflict(t.Name, refErr("tenant", ref, err)))
		return
	}
	s.changed()
	s.writeTenant(w, r, http.StatusOK, t)
}

func (s *server) deleteTenant(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	if err := s.opts.Store.DeleteTenant(r.Context(), ref); err != nil {
		s.fail(w, r, tenantConflict(ref, refErr("tenant", ref, err)))
		return
	}
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

// tenantConflict words the store's conflicts: a name taken, an entity in
// another tenant, a tenant pools name.
func tenantConflict(name string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return conflict("tenant %q: %v", name, err)
	}
	return err
}

// resolveSharing turns a pool input's entities (ids or names) into ids and
// checks its tenants exist ("*" and "default" always do).
func (s *server) resolveSharing(ctx context.Context, in poolInput) (entities, tenants *[]string, errs check.Errors, err error) {
	if in.Entities != nil {
		ids := []string{}
		for i, ref := range *in.Entities {
			e, gerr := s.opts.Store.GetEntity(ctx, ref)
			if errors.Is(gerr, store.ErrNotFound) {
				errs = append(errs, check.FieldError{Field: fmt.Sprintf("entities[%d]", i),
					Message: fmt.Sprintf("entity %q does not exist (see paddock entity list)", ref)})
				continue
			} else if gerr != nil {
				return nil, nil, nil, gerr
			}
			ids = append(ids, e.ID)
		}
		entities = &ids
	}
	if in.Tenants != nil {
		names := slices.Clone(*in.Tenants)
		for i, name := range names {
			if name == core.AllTenants || name == core.DefaultTenant || check.NameProblem(name) != "" {
				continue // check.Pool words a bad name
			}
			if _, gerr := s.opts.Store.GetTenant(ctx, name); errors.Is(gerr, store.ErrNotFound) {
				errs = append(errs, check.FieldError{Field: fmt.Sprintf("tenants[%d]", i),
					Message: fmt.Sprintf(`tenant %q does not exist (see paddock tenant list, or write "*" for all)`, name)})
			} else if gerr != nil {
				return nil, nil, nil, gerr
			}
		}
		tenants = &names
	}
	return entities, tenants, errs, nil
}
