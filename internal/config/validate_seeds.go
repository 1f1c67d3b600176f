package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

var arches = check.Arches

func (v *validator) forges() {
	names := map[string]string{}
	for i, fc := range v.c.Forges {
		path := fmt.Sprintf("forges[%d]", i)
		v.name(path, fc.Name, names)
		f := fc.ToCore()
		check.ForgeDefaults(&f)
		for _, fe := range check.Forge(f) {
			if fe.Field == "name" {
				continue // v.name reported it, with duplicates
			}
			// The file calls the App key private_key (a secret reference).
			field := strings.Replace(fe.Field, "credential.private_key_pem", "credential.private_key", 1)
			v.p.at(path+"."+field, "%s", fe.Message)
		}
		if fc.WebhookSecret == "" && v.forgeTakesWebhooks(fc.Name) {
			v.p.at(path+".webhook_secret", "required: entities on this forge use intake webhook (e.g. env:GH_WEBHOOK_SECRET)")
		}
		v.runnerDownloads(path, fc)
	}
}

var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// runnerDownloads: a Gitea or Forgejo forge must say where its runner binary
// is and what it hashes to; GitHub's come from its API.
func (v *validator) runnerDownloads(path string, f ForgeConfig) {
	if f.Kind == core.ForgeGitHub {
		if len(f.RunnerDownloads) > 0 {
			v.p.at(path+".runner_downloads", "only for gitea and forgejo forges (GitHub publishes its own)")
		}
		return
	}
	if len(f.RunnerDownloads) == 0 && (f.Kind == core.ForgeGitea || f.Kind == core.ForgeForgejo) {
		v.p.at(path+".runner_downloads", "required for a %s forge: url and sha256 of the runner binary", f.Kind)
	}
	for i, d := range f.RunnerDownloads {
		p := fmt.Sprintf("%s.runner_downloads[%d]", path, i)
		if d.URL == "" {
			v.p.at(p+".url", "required")
		} else {
			v.url(p+".url", d.URL)
		}
		if !sha256RE.MatchString(d.SHA256) {
			v.p.at(p+".sha256", "must be 64 hex digits, got %q", d.SHA256)
		}
		if d.Architecture != "" && !slices.Contains(arches, d.Architecture) {
			v.p.at(p+".architecture", "unknown architecture %q (want x64 or arm64)", d.Architecture)
		}
	}
}

func (v *validator) forgeTakesWebhooks(forge string) bool {
	for _, e := range v.c.Entities {
		if e.Forge == forge && (e.Intake == "" || e.Intake == core.IntakeWebhook) {
			return true
		}
	}
	return false
}

// entities checks entity seeds. A forge reference is checked only when the
// file declares forges: otherwise it may name a forge already in the store.
func (v *validator) entities() {
	seen := map[string]string{}
	for i, ec := range v.c.Entities {
		path := fmt.Sprintf("entities[%d]", i)
		var kind core.ForgeKind
		switch {
		case ec.Forge == "":
			v.p.at(path+".forge", "required (a forge name)")
		case len(v.c.Forges) > 0 && !v.forgeDeclared(ec.Forge):
			v.p.at(path+".forge", "unknown forge %q (declared: %s)", ec.Forge, strings.Join(v.forgeNames(), ", "))
		default:
			if fc, ok := v.c.Forge(ec.Forge); ok {
				kind = fc.Kind
			}
		}
		e := ec.ToCore("")
		check.EntityDefaults(&e)
		for _, fe := range check.Entity(e, kind) {
			v.p.at(path+"."+fe.Field, "%s", fe.Message)
		}
		key := ec.Forge + "\x00" + ec.Name
		if first := seen[key]; first != "" && ec.Name != "" {
			v.p.at(path+".name", "entity %q on forge %q is already declared at %s", ec.Name, ec.Forge, first)
		} else {
			seen[key] = path
		}
	}
}

func (v *validator) forgeDeclared(name string) bool {
	return slices.Contains(v.forgeNames(), name)
}

func (v *validator) forgeNames() []string {
	names := make([]string, len(v.c.Forges))
	for i, f := range v.c.Forges {
		names[i] = f.Name
	}
	return names
}

func (v *validator) pools() {
	names := map[string]string{}
	for i, pl := range v.c.Pools {
		path := fmt.Sprintf("pools[%d]", i)
		v.name(path, pl.Name, names)
		v.poolEntity(path, pl)
		switch {
		case pl.Provider == "":
			v.p.at(path+".provider", "required (a provider name)")
		case !slices.ContainsFunc(v.c.Providers, func(p ProviderConfig) bool { return p.Name == pl.Provider }):
			v.p.at(path+".provider", "unknown provider %q", pl.Provider)
		}
		// The pool's own fields pass the same check as an API request.
		p := pl.ToCore("")
		p.Entities = pl.Entities // names here; the check only compares them
		check.PoolDefaults(&p, func(field string) bool { return v.p.set[path+"."+field] })
		for _, fe := range check.Pool(p) {
			if fe.Field == "name" || fe.Field == "provider" {
				continue // reported above, with duplicates and references
			}
			v.p.at(path+"."+fe.Field, "%s", fe.Message)
		}
		v.scaleSet(path, pl)
		v.poolSharing(path, pl)
	}
}

// poolEntity checks the pool's entity reference. Like forges, it is checked
// only against entities the file declares, if it declares any.
func (v *validator) poolEntity(path string, pl PoolConfig) {
	if pl.Entity == "" {
		v.p.at(path+".entity", "required (an entity name such as owner/repo)")
		return
	}
	if pl.Forge != "" && len(v.c.Forges) > 0 && !v.forgeDeclared(pl.Forge) {
		v.p.at(path+".forge", "unknown forge %q", pl.Forge)
		return
	}
	if len(v.c.Entities) == 0 {
		return
	}
	switch n := len(v.c.matchEntities(pl)); {
	case n == 0 && pl.Forge != "":
		v.p.at(path+".entity", "no entity %q is declared on forge %q", pl.Entity, pl.Forge)
	case n == 0:
		v.p.at(path+".entity", "unknown entity %q", pl.Entity)
	case n > 1:
		v.p.at(path+".entity", "entity %q is declared on several forges: set forge to choose one", pl.Entity)
	}
}
