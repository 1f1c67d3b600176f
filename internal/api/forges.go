package api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

const redactedPlaceholder = "***"

// forgeInput is a create or PATCH body; nil fields are left unchanged.
type forgeInput struct {
	Name          *string          `json:"name"`
	Kind          *core.ForgeKind  `json:"kind"`
	APIURL        *string          `json:"api_url"`
	WebURL        *string          `json:"web_url"`
	WebhookSecret *string          `json:"webhook_secret"`
	Credential    *core.Credential `json:"credential"`
}

func (in forgeInput) apply(f *core.Forge) {
	set(&f.Name, in.Name)
	set(&f.Kind, in.Kind)
	set(&f.APIURL, in.APIURL)
	set(&f.WebURL, in.WebURL)
	set(&f.WebhookSecret, in.WebhookSecret)
	if in.Credential != nil {
		// The credential is replaced as a whole; only its kind carries over,
		// so rotating a token needs just {"credential":{"token":"…"}}.
		c := *in.Credential
		if c.Kind == "" {
			c.Kind = f.Credential.Kind
		}
		f.Credential = c
	}
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

func validateForge(f *core.Forge) error {
	check.ForgeDefaults(f)
	errs := check.Forge(*f)
	switch f.Kind {
	case core.ForgeGitea, core.ForgeForgejo:
		// Their runner downloads can only be declared in the config file.
		errs = append(errs, check.FieldError{Field: "kind", Message: fmt.Sprintf(
			"a %s forge can be declared only in the config file (it needs runner_downloads); use \"github\" here", f.Kind)})
	}
	if c := f.Credential; c.Token == redactedPlaceholder || c.PrivateKeyPEM == redactedPlaceholder {
		errs = append(errs, check.FieldError{Field: "credential", Message: fmt.Sprintf(
			"holds the redaction placeholder %q; send the real secret, or omit credential to keep it", redactedPlaceholder)})
	}
	if len(errs) > 0 {
		return invalid("forge", errs)
	}
	return nil
}

func (s *server) listForges(w http.ResponseWriter, r *http.Request) {
	fs, err := s.opts.Store.ListForges(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]core.Forge, 0, len(fs))
	for _, f := range fs {
		out = append(out, redactForge(f))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getForge(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	f, err := s.opts.Store.GetForge(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("forge", ref, err))
		return
	}
	writeJSON(w, http.StatusOK, redactForge(f))
}

func (s *server) createForge(w http.ResponseWriter, r *http.Request) {
	var in forgeInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	var f core.Forge
	if in.Credential == nil {
		s.fail(w, r, badRequest("credential is required"))
		return
	}
	in.apply(&f)
	if err := validateForge(&f); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.CreateForge(r.Context(), &f); err != nil {
		s.fail(w, r, nameTaken("forge", f.Name, err))
		return
	}
	s.changed()
	writeJSON(w, http.StatusCreated, redactForge(f))
}

func (s *server) updateForge(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	var in forgeInput
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.opts.Store.GetForge(r.Context(), ref)
	if err != nil {
		s.fail(w, r, refErr("forge", ref, err))
		return
	}
	in.apply(&f)
	if err := validateForge(&f); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.opts.Store.UpdateForge(r.Context(), &f); err != nil {
		s.fail(w, r, nameTaken("forge", f.Name, err))
		return
	}
	s.changed()
	writeJSON(w, http.StatusOK, redactForge(f))
}

func (s *server) deleteForge(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	ctx := r.Context()
	err := s.opts.Store.DeleteForge(ctx, ref)
	if errors.Is(err, store.ErrConflict) {
		err = s.forgeInUse(r, ref, err)
	}
	if err != nil {
		s.fail(w, r, refErr("forge", ref, err))
		return
	}
	s.changed()
	w.WriteHeader(http.StatusNoContent)
}

// forgeInUse names the entities that block a forge's deletion.
func (s *server) forgeInUse(r *http.Request, ref string, err error) error {
	f, ferr := s.opts.Store.GetForge(r.Context(), ref)
	es, lerr := s.opts.Store.ListEntities(r.Context())
	if ferr != nil || lerr != nil {
		return err
	}
	var names []string
	for _, e := range es {
		if e.ForgeID == f.ID {
			names = append(names, e.Name)
		}
	}
	return inUse("forge", f.Name, "entities", names, "paddock entity delete", err)
}

func inUse(kind, name, what string, names []string, hint string, err error) error {
	if len(names) == 0 {
		return err
	}
	sort.Strings(names)
	return conflict("%s %q is still used by %s: %s; remove those first (%s)",
		kind, name, what, strings.Join(names, ", "), hint)
}

// nameTaken turns a create/update conflict into a message naming the clash.
func nameTaken(kind, name string, err error) error {
	var shared *store.SharedSecretError
	if errors.As(err, &shared) {
		return conflict("%s", shared.Error())
	}
	if errors.Is(err, store.ErrConflict) {
		return conflict("a %s named %q already exists", kind, name)
	}
	return err
}
