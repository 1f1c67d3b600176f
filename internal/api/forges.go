package api

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// nameRE bounds object names: they appear in URLs (/webhooks/{forge}) and runner names.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

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
	if err := validName("name", f.Name); err != nil {
		return err
	}
	switch f.Kind {
	case core.ForgeGitHub:
	case core.ForgeGitea, core.ForgeForgejo:
		return badRequest("kind %q is not supported yet; only \"github\" is", f.Kind)
	case "":
		return badRequest("kind is required (github)")
	default:
		return badRequest("kind %q is unknown; use \"github\"", f.Kind)
	}
	if f.APIURL == "" {
		f.APIURL = "https://api.github.com/"
	}
	var err error
	if f.APIURL, err = normalizeURL("api_url", f.APIURL); err != nil {
		return err
	}
	if f.WebURL == "" {
		f.WebURL = githubWebURL(f.APIURL)
	}
	if f.WebURL, err = normalizeURL("web_url", f.WebURL); err != nil {
		return err
	}
	return validateCredential(f.Credential)
}

func validName(field, v string) error {
	if v == "" {
		return badRequest("%s is required", field)
	}
	if !nameRE.MatchString(v) {
		return badRequest("%s %q is invalid: use letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)", field, v)
	}
	return nil
}

// normalizeURL insists on an absolute http(s) URL and a trailing slash, so
// endpoint paths join onto it the same way for github.com and GHES.
func normalizeURL(field, raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", badRequest("%s %q must be an absolute http(s) URL", field, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", badRequest("%s %q must not carry a query, fragment or user info", field, raw)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// githubWebURL derives the web address from the API address: api.github.com
// → github.com, and a GHES host's /api/v3/ → its root.
func githubWebURL(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	if strings.EqualFold(u.Host, "api.github.com") {
		u.Host = "github.com"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3") + "/"
	return u.String()
}

func validateCredential(c core.Credential) error {
	if c.Token == redactedPlaceholder || c.PrivateKeyPEM == redactedPlaceholder {
		return badRequest("credential holds the redaction placeholder %q; send the real secret, or omit credential to keep it", redactedPlaceholder)
	}
	switch c.Kind {
	case core.CredentialPAT:
		if c.Token == "" {
			return badRequest("credential.token is required for credential kind \"pat\"")
		}
	case core.CredentialApp:
		if c.AppID <= 0 || c.InstallationID <= 0 {
			return badRequest("credential.app_id and credential.installation_id are required (positive) for credential kind \"app\"")
		}
		if b, _ := pem.Decode([]byte(c.PrivateKeyPEM)); b == nil {
			return badRequest("credential.private_key_pem must be a PEM-encoded private key")
		}
	case "":
		return badRequest("credential.kind is required (pat or app)")
	default:
		return badRequest("credential.kind %q is unknown; use \"pat\" or \"app\"", c.Kind)
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
	if err := s.sharedSecret(r.Context(), f); err != nil {
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
	if err := s.sharedSecret(r.Context(), f); err != nil {
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
	if errors.Is(err, store.ErrConflict) {
		return conflict("a %s named %q already exists", kind, name)
	}
	return err
}
