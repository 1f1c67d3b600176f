package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

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

// apply merges the input and resolves the forge reference; it returns the forge's name.
func (s *server) applyEntity(ctx context.Context, in entityInput, e *core.Entity) (string, error) {
	set(&e.Kind, in.Kind)
	set(&e.Name, in.Name)
	set(&e.Intake, in.Intake)
	if e.Kind == "" && e.Name != "" {
		// owner/repo is unambiguous; anything else is most often an org.
		e.Kind = core.EntityOrganization
		if strings.Contains(e.Name, "/") {
			e.Kind = core.EntityRepository
		}
	}
	if e.Intake == "" {
		e.Intake = core.IntakeWebhook
	}
	if in.Forge != nil {
		if *in.Forge == "" {
			return "", badRequest("forge is required")
		}
		f, err := s.opts.Store.GetForge(ctx, *in.Forge)
		if errors.Is(err, store.ErrNotFound) {
			return "", badRequest("forge %q does not exist (see paddock forge list)", *in.Forge)
		} else if err != nil {
			return "", err
		}
		e.ForgeID = f.ID
		return f.Name, validateEntity(e)
	}
	if e.ForgeID == "" {
		return "", badRequest("forge is required")
	}
	f, err := s.opts.Store.GetForge(ctx, e.ForgeID)
	if err != nil {
		return "", err
	}
	return f.Name, validateEntity(e)
}

func validateEntity(e *core.Entity) error {
	if e.Name == "" {
		return badRequest("name is required")
	}
	if strings.ContainsAny(e.Name, " \t\r\n") {
		return badRequest("name %q must not contain whitespace", e.Name)
	}
	switch e.Kind {
	case core.EntityRepository:
		owner, repo, ok := strings.Cut(e.Name, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			return badRequest("name %q must be owner/repo for kind repository", e.Name)
		}
	case core.EntityOrganization, core.EntityEnterprise:
		if strings.Contains(e.Name, "/") {
			return badRequest("name %q must not contain '/' for kind %s", e.Name, e.Kind)
		}
	default:
		return badRequest("kind %q is unknown; use repository, organization or enterprise", e.Kind)
	}
	switch e.Intake {
	case core.IntakeWebhook, core.IntakePoll:
	default:
		return badRequest("intake %q is unknown; use webhook or poll", e.Intake)
	}
	return nil
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
	if in.Forge == nil {
		s.fail(w, r, badRequest("forge is required"))
		return
	}
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
