package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

// verify finds the forge a delivery comes from and checks its signature.
//
// The URL names the forge when it is /webhooks/<kind>/<forge>; then only that
// forge's secret counts. On /webhooks/<kind> every forge of the kind whose
// secret verifies the body is a candidate. Each forge should have its own
// secret (config and API refuse a shared one), but a store written before
// that rule may still hold two forges with one secret: then the delivery
// itself decides (routeDelivery), never merely the first secret that
// verifies, which attributed one forge's deliveries to the other.
//
// Every candidate is checked, so the time taken does not say which forge
// matched; a delivery with no signature at all is refused at once.
func (h *Handler) verify(ctx context.Context, d *dialect, ref string, body []byte, hdr http.Header) (core.Forge, error) {
	var cands []core.Forge
	if ref != "" {
		f, err := h.Store.GetForge(ctx, ref)
		if err != nil {
			return core.Forge{}, fmt.Errorf("unknown forge %q", ref)
		}
		if f.Kind != d.kind {
			return core.Forge{}, fmt.Errorf("forge %q is a %s forge; its deliveries go to /webhooks/%s/%s", f.Name, f.Kind, f.Kind, f.Name)
		}
		cands = []core.Forge{f}
	} else {
		all, err := h.Store.ListForges(ctx)
		if err != nil {
			return core.Forge{}, err
		}
		cands = all
	}
	var verified []core.Forge
	lastErr := errors.New("no " + string(d.kind) + " forge with a webhook secret is configured")
	for _, f := range cands {
		if f.Kind != d.kind || f.WebhookSecret == "" {
			continue
		}
		err := d.verifySig([]byte(f.WebhookSecret), body, hdr)
		switch {
		case errors.Is(err, d.noSignature):
			return core.Forge{}, err
		case err == nil:
			verified = append(verified, f)
		default:
			lastErr = err
		}
	}
	switch len(verified) {
	case 0:
		return core.Forge{}, fmt.Errorf("signature does not match any configured webhook secret: %w", lastErr)
	case 1:
		return verified[0], nil
	}
	return h.routeDelivery(ctx, verified, body)
}

// sender is what any delivery's payload says about where it comes from
// (GitHub, Gitea and Forgejo share these fields).
type sender struct {
	Repository *struct {
		FullName string `json:"full_name"`
		HTMLURL  string `json:"html_url"`
	} `json:"repository"`
	Organization *struct {
		Login string `json:"login"`
	} `json:"organization"`
	Enterprise *struct {
		Slug string `json:"slug"`
	} `json:"enterprise"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// routeDelivery picks, among forges whose secret all verify the delivery, the
// one it belongs to: the forges whose web host is the repository's host, then
// those with an entity for the delivery's repository, organization or
// enterprise, then those whose GitHub App installation sent it. Ties that
// remain go to the first by name, with a warning: the operator must give the
// forges their own secrets.
func (h *Handler) routeDelivery(ctx context.Context, forges []core.Forge, body []byte) (core.Forge, error) {
	var p sender
	_ = json.Unmarshal(body, &p) // a payload without these fields just narrows nothing
	ents, err := h.Store.ListEntities(ctx)
	if err != nil {
		return core.Forge{}, err
	}
	host := ""
	want := map[core.EntityKind]string{}
	if p.Repository != nil {
		want[core.EntityRepository] = p.Repository.FullName
		if u, err := url.Parse(p.Repository.HTMLURL); err == nil {
			host = u.Host
		}
	}
	if p.Organization != nil {
		want[core.EntityOrganization] = p.Organization.Login
	}
	if p.Enterprise != nil {
		want[core.EntityEnterprise] = p.Enterprise.Slug
	}
	filters := []func(core.Forge) bool{
		func(f core.Forge) bool {
			u, err := url.Parse(f.WebURL)
			return host != "" && err == nil && strings.EqualFold(u.Host, host)
		},
		func(f core.Forge) bool {
			for _, e := range ents {
				if e.ForgeID == f.ID && want[e.Kind] != "" && strings.EqualFold(e.Name, want[e.Kind]) {
					return true
				}
			}
			return false
		},
		func(f core.Forge) bool {
			return p.Installation != nil && f.Credential.Kind == core.CredentialApp &&
				f.Credential.InstallationID == p.Installation.ID
		},
	}
	cands := forges
	for _, keep := range filters {
		var kept []core.Forge
		for _, f := range cands {
			if keep(f) {
				kept = append(kept, f)
			}
		}
		if len(kept) > 0 { // a filter that matches none tells nothing here
			cands = kept
		}
		if len(cands) == 1 {
			return cands[0], nil
		}
	}
	names := make([]string, len(cands))
	for i, f := range cands {
		names[i] = f.Name
	}
	h.Logger.Warn("webhook: several forges share this webhook secret and the delivery does not tell them apart; "+
		"give each forge its own secret or point each forge's webhook at /webhooks/<kind>/<forge>",
		"forges", strings.Join(names, ","), "chosen", cands[0].Name)
	return cands[0], nil
}
