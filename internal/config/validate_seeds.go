package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/core"
)

var (
	forgeKinds  = []core.ForgeKind{core.ForgeGitHub, core.ForgeGitea, core.ForgeForgejo}
	entityKinds = []core.EntityKind{core.EntityRepository, core.EntityOrganization, core.EntityEnterprise}
	osTypes     = []string{"linux", "windows", "macos"}
	arches      = []string{"x64", "arm64"}
)

func (v *validator) forges() {
	names := map[string]string{}
	for i, f := range v.c.Forges {
		path := fmt.Sprintf("forges[%d]", i)
		v.name(path, f.Name, names)
		switch {
		case f.Kind == "":
			v.p.at(path+".kind", "required (one of github, gitea, forgejo)")
		case !slices.Contains(forgeKinds, f.Kind):
			v.p.at(path+".kind", "unknown forge kind %q (want github, gitea or forgejo)", f.Kind)
		case !builtForges[f.Kind]:
			v.p.at(path+".kind", "forge kind %s is not available in this build", f.Kind)
		}
		// github.com's URLs are the default; every other forge must say where it is.
		for _, u := range []struct{ key, val string }{{"api_url", f.APIURL}, {"web_url", f.WebURL}} {
			switch {
			case u.val != "":
				v.url(path+"."+u.key, u.val)
			case f.Kind != core.ForgeGitHub:
				v.p.at(path+"."+u.key, "required for a %s forge", f.Kind)
			}
		}
		if f.WebhookSecret == "" && v.forgeTakesWebhooks(f.Name) {
			v.p.at(path+".webhook_secret", "required: entities on this forge use intake webhook (e.g. env:GH_WEBHOOK_SECRET)")
		}
		v.credential(path+".credential", f.Credential)
		v.runnerDownloads(path, f)
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

func (v *validator) credential(path string, c CredentialConfig) {
	switch c.Kind {
	case "":
		v.p.at(path+".kind", "required (pat or app)")
	case core.CredentialPAT:
		if c.Token == "" {
			v.p.at(path+".token", "required for kind pat (e.g. env:GITHUB_TOKEN)")
		}
		for _, f := range []struct {
			key   string
			isSet bool
		}{{"app_id", c.AppID != 0}, {"installation_id", c.InstallationID != 0}, {"private_key", c.PrivateKey != ""}} {
			if f.isSet {
				v.p.at(path+"."+f.key, "only valid for kind app")
			}
		}
	case core.CredentialApp:
		if c.Token != "" {
			v.p.at(path+".token", "only valid for kind pat")
		}
		if c.AppID < 1 {
			v.p.at(path+".app_id", "required for kind app (a positive number)")
		}
		if c.InstallationID < 1 {
			v.p.at(path+".installation_id", "required for kind app (a positive number)")
		}
		if c.PrivateKey == "" {
			v.p.at(path+".private_key", "required for kind app (e.g. file:app-key.pem)")
		} else if err := checkPrivateKey(string(c.PrivateKey)); err != nil {
			v.p.at(path+".private_key", "%v", err)
		}
	default:
		v.p.at(path+".kind", "unknown credential kind %q (want pat or app)", c.Kind)
	}
}

// entities checks entity seeds. A forge reference is checked only when the
// file declares forges: otherwise it may name a forge already in the store.
func (v *validator) entities() {
	seen := map[string]string{}
	for i, e := range v.c.Entities {
		path := fmt.Sprintf("entities[%d]", i)
		switch {
		case e.Forge == "":
			v.p.at(path+".forge", "required (a forge name)")
		case len(v.c.Forges) > 0 && !v.forgeDeclared(e.Forge):
			v.p.at(path+".forge", "unknown forge %q (declared: %s)", e.Forge, strings.Join(v.forgeNames(), ", "))
		}
		switch {
		case e.Kind == "":
			v.p.at(path+".kind", "required (repository, organization or enterprise)")
		case !slices.Contains(entityKinds, e.Kind):
			v.p.at(path+".kind", "unknown entity kind %q (want repository, organization or enterprise)", e.Kind)
		}
		owner, repo, hasSlash := strings.Cut(e.Name, "/")
		switch {
		case e.Name == "":
			v.p.at(path+".name", "required")
		case e.Kind == core.EntityRepository && (owner == "" || repo == "" || strings.Contains(repo, "/")):
			v.p.at(path+".name", "a repository must be written owner/repo, got %q", e.Name)
		case e.Kind != core.EntityRepository && hasSlash:
			v.p.at(path+".name", "an %s name has no '/', got %q", e.Kind, e.Name)
		}
		if e.Intake != "" && e.Intake != core.IntakeWebhook && e.Intake != core.IntakePoll {
			v.p.at(path+".intake", "unknown intake %q (want webhook or poll)", e.Intake)
		}
		key := e.Forge + "\x00" + e.Name
		if first := seen[key]; first != "" && e.Name != "" {
			v.p.at(path+".name", "entity %q on forge %q is already declared at %s", e.Name, e.Forge, first)
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
		labels := map[string]bool{}
		for j, l := range pl.Labels {
			lp := fmt.Sprintf("%s.labels[%d]", path, j)
			switch {
			case strings.TrimSpace(l) == "" || strings.ContainsAny(l, ", \t"):
				v.p.at(lp, "label %q must be non-empty with no spaces or commas", l)
			case labels[strings.ToLower(l)]:
				// Forges compare labels case-insensitively.
				v.p.at(lp, "duplicate label %q", l)
			}
			labels[strings.ToLower(l)] = true
		}
		if pl.OSType != "" && !slices.Contains(osTypes, pl.OSType) {
			v.p.at(path+".os_type", "unknown os_type %q (want linux, windows or macos)", pl.OSType)
		}
		if pl.Arch != "" && !slices.Contains(arches, pl.Arch) {
			v.p.at(path+".arch", "unknown arch %q (want x64 or arm64; amd64 is written x64)", pl.Arch)
		}
		v.poolCounts(path, pl)
		v.scaleSet(path, pl)
		if v.p.set[path+".bootstrap_timeout"] && pl.BootstrapTimeout <= 0 {
			v.p.at(path+".bootstrap_timeout", "must be positive")
		}
		v.minDuration(path+".max_job_runtime", pl.MaxJobRuntime, 0)
		if v.p.set[path+".runner_prefix"] && !prefixRE.MatchString(pl.RunnerPrefix) {
			v.p.at(path+".runner_prefix", "%q must be lower-case letters, digits and '-' (at most 32, starting with a letter or digit)", pl.RunnerPrefix)
		}
		if s := pl.Sizes; s != nil {
			v.minInt(path+".sizes.max_cpu", s.MaxCPU, 1)
			v.minInt(path+".sizes.max_memory_gb", s.MaxMemoryGB, 1)
			v.minInt(path+".sizes.max_disk_gb", s.MaxDiskGB, 1)
		}
	}
}

func (v *validator) poolCounts(path string, pl PoolConfig) {
	v.minInt(path+".min_idle", pl.MinIdle, 0)
	// max_runners has no default: it caps spending, so it is a decision.
	switch {
	case !v.p.set[path+".max_runners"]:
		v.p.at(path+".max_runners", "required (the most machines this pool may run at once)")
	case pl.MaxRunners < 1:
		v.p.at(path+".max_runners", "must be ≥ 1")
	case pl.MinIdle > pl.MaxRunners:
		v.p.at(path+".min_idle", "must be ≤ max_runners (%d)", pl.MaxRunners)
	}
	if pl.FreeTargetPercent < 0 || pl.FreeTargetPercent > 100 {
		v.p.at(path+".free_target_percent", "must be from 0 to 100")
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
