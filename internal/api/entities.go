package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// entityInput is a create or PATCH body; nil fields are left unchanged.
type entityInput struct {
	Forge  *string          `json:"forge"` // forge id or name
	Kind   *core.EntityKind `json:"kind"`
	Name   *string          `json:"name"`
	Intake *core.Intake     `json:"intake"`
}

// applyEntity merges the input, resolves the forge reference and checks the
// result against the rules of that forge's kind; it returns the forge's name.
func (s *server) applyEntity(ctx context.Context, in entityInput, e *core.Entity) (string, error) {
	set(&e.Kind, in.Kind)
	set(&e.Name, in.Name)
	set(&e.Intake, in.Intake)
	check.EntityDefaults(e)
	ref := e.ForgeID
	if in.Forge != nil {
		ref = *in.Forge
	}
	if ref == "" {
		return "", invalid("entity", check.Errors{{Field: "forge", Message: "forge is required (a forge name or id)"}})
	}
	f, err := s.opts.Store.GetForge(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return "", invalid("entity", check.Errors{{Field: "forge", Message: fmt.Sprintf("forge %q does not exist (see paddock forge list)", ref)}})
	} else if err != nil {
		return "", err
	}
	e.ForgeID = f.ID
	if errs := check.Entity(*e, f.Kind); len(errs) > 0 {
		return "", invalid("entity", errs)
	}
	return f.Name, nil
}

func (s *server) forgeNames(ctx context.Context) (map[string]string, error) {
	fs, err := s.opts.Store.ListForges(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.ID] = f.Name
	}
	return m, nil
}

func (s *server) listEntities(w http.ResponseWriter, r *http.Request) {
	es, err := s.opts.Store.ListEntities(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names, err := s.forgeNames(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]EntityView, 0, len(es))
	for _, e := range es {
		out = append(out, EntityView{Entity: e, Forge: names[e.ForgeID]})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getEntity(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	e, err := s.opts.Store.GetEntity(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("entity", ref, err))
		return
	}
	names, err := s.forgeNames(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, EntityView{Entity: e, Forge: names[e.ForgeID]})
}

func (s *server) createEntity(w http.ResponseWriter, r *http.Request) {
	var in entityInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	var e core.Entity
	forge, err := s.applyEntity(r.Context(), in, &e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.CreateEntity(r.Context(), &e); err != nil {
		s.fail(w, r, nameTaken("entity", e.Name, err))
		return
	}
	s.changed()
	writeJSON(w, http.StatusCreated, EntityView{Entity: e, Forge: forge})
}

func (s *server) updateEntity(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	var in entityInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.opts.Store.GetEntity(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("entity", ref, err))
		return
	}
	forge, err := s.applyEntity(r.Context(), in, &e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.UpdateEntity(r.Context(), &e); err != nil {
		s.fail(w, r, nameTaken("entity", e.Name, err))
		return
	}
	s.changed()
	writeJSON(w, http.StatusOK, EntityView{Entity: e, Forge: forge})
}

func (s *server) deleteEntity(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	err := s.opts.Store.DeleteEntity(r.Context(), ref)
	if errors.Is(err, store.ErrConflict) {
		err = s.entityInUse(r, ref, err)
	}
	if err != nil {
		s.fail(w, r, refErr("entity", ref, err))
		return
	}
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

// entityInUse names the pools that block an entity's deletion.
func (s *server) entityInUse(r *http.Request, ref string, err error) error {
	e, eerr := s.opts.Store.GetEntity(r.Context(), ref)
	ps, lerr := s.opts.Store.ListPools(r.Context())
	if eerr != nil || lerr != nil {
		return err
	}
	var names []string
	for _, p := range ps {
		if p.EntityID == e.ID {
			names = append(names, p.Name)
		}
	}
	return inUse("entity", e.Name, "pools", names, "paddock pool delete", err)
}
