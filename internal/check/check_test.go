package check

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddock-ci/paddock/internal/core"
)

func validPool() core.Pool {
	p := core.Pool{Name: "linux", Provider: "local", Labels: []string{"linux", "x64"}}
	PoolDefaults(&p, func(string) bool { return false })
	return p
}

func TestPoolDefaultsAreValid(t *testing.T) {
	if errs := Pool(validPool()); len(errs) > 0 {
		t.Fatalf("defaults invalid: %v", errs)
	}
}

func TestPoolRefusals(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*core.Pool)
	}{
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "../../tmp/evil" }},
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "x;$(id)" }},
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "UPPER" }},
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "has space" }},
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = strings.Repeat("a", MaxRunnerPrefixLen+1) }},
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "1abc" }}, // LXD: no leading digit
		{"runner_prefix", func(p *core.Pool) { p.RunnerPrefix = "abc-" }},
		{"os_type", func(p *core.Pool) { p.OSType = "plan9" }},
		{"arch", func(p *core.Pool) { p.Arch = "sparc" }},
		{"bootstrap_timeout", func(p *core.Pool) { p.BootstrapTimeout = 1 }},
		{"max_job_runtime", func(p *core.Pool) { p.MaxJobRuntime = 1 }},
		{"max_job_runtime", func(p *core.Pool) { p.MaxJobRuntime = -time.Hour }},
		{"max_runners", func(p *core.Pool) { p.MinIdle, p.MaxRunners = 1e9, 1e9 }},
		{"max_runners", func(p *core.Pool) { p.MaxRunners = 1<<63 - 1 }},
		{"max_runners", func(p *core.Pool) { p.MaxRunners = 0 }},
		{"min_idle", func(p *core.Pool) { p.MinIdle = 2 }},
		{"min_idle", func(p *core.Pool) { p.MinIdle = -1 }},
		{"free_target_percent", func(p *core.Pool) { p.FreeTargetPercent = 101 }},
		{"labels", func(p *core.Pool) { p.Labels = nil }},
		{"labels[1]", func(p *core.Pool) { p.Labels = []string{"a", "A"} }},
		{"labels[0]", func(p *core.Pool) { p.Labels = []string{"a b"} }},
		{"labels[0]", func(p *core.Pool) { p.Labels = []string{"a,b"} }},
		{"labels[0]", func(p *core.Pool) { p.Labels = []string{"a\nb"} }},
		{"name", func(p *core.Pool) { p.Name = "../x" }},
		{"provider", func(p *core.Pool) { p.Provider = "" }},
		{"image", func(p *core.Pool) { p.Image = "a\x00b" }},
		{"runner_group", func(p *core.Pool) { p.RunnerGroup = strings.Repeat("g", 300) }},
		{"sizes.max_cpu", func(p *core.Pool) { p.Sizes = &core.SizeLimits{MaxCPU: -1, MaxMemoryGB: 1, MaxDiskGB: 1} }},
		{"sizes.max_disk_gb", func(p *core.Pool) { p.Sizes = &core.SizeLimits{MaxCPU: 1, MaxMemoryGB: 1, MaxDiskGB: 1 << 40} }},
		{"labels", func(p *core.Pool) { p.ScaleSet, p.Labels = true, []string{"self-hosted"} }},
	} {
		p := validPool()
		tc.edit(&p)
		errs := Pool(p)
		if !errs.Has(tc.field) {
			t.Errorf("%+v: no error for %s (got %v)", p, tc.field, errs)
		}
	}
}

func TestPoolZeroRuntimeMeansNoLimit(t *testing.T) {
	p := validPool()
	p.MaxJobRuntime = 0
	if errs := Pool(p); len(errs) > 0 {
		t.Fatal(errs)
	}
}

// lxdNameRE is LXD's instance name rule (a host name that does not start
// with a digit).
var lxdNameRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// Every prefix the rule accepts yields instance names every provider takes
// as they are: DNS-1123 labels (Kubernetes object names, VM host names),
// LXD names, and state directory names.
func TestAcceptedPrefixMakesNamesEveryProviderTakes(t *testing.T) {
	suffix := strings.Repeat("9", InstanceSuffixLen-1)
	for _, prefix := range []string{"a", "paddock", "ci-runners-2", strings.Repeat("z", MaxRunnerPrefixLen), "a" + strings.Repeat("-", MaxRunnerPrefixLen-2) + "b"} {
		if msg := RunnerPrefixProblem(prefix); msg != "" {
			t.Fatalf("%q refused: %s", prefix, msg)
		}
		name := prefix + "-" + suffix
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("%q is not a DNS-1123 label: %v", name, errs)
		}
		if !lxdNameRE.MatchString(name) {
			t.Errorf("%q is not a valid LXD name", name)
		}
		if strings.ContainsAny(name, "/\\, \x00") || len(name) > MaxInstanceNameLen {
			t.Errorf("%q is not a valid state directory name", name)
		}
	}
}

func TestEntityNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kind  core.EntityKind
		forge core.ForgeKind
		ok    bool
	}{
		{"acme/app", core.EntityRepository, core.ForgeGitHub, true},
		{"acme-corp/my.repo_1", core.EntityRepository, core.ForgeGitHub, true},
		{"acme", core.EntityOrganization, core.ForgeGitHub, true},
		{"octo_acme/app", core.EntityRepository, core.ForgeGitHub, true},
		{"ac.me/app", core.EntityRepository, core.ForgeGitea, true},
		{"ac.me/app", core.EntityRepository, core.ForgeGitHub, false},
		{"-acme/app", core.EntityRepository, core.ForgeGitHub, false},
		{"acme-/app", core.EntityRepository, core.ForgeGitHub, false},
		{"ac--me", core.EntityOrganization, core.ForgeGitHub, false},
		{strings.Repeat("a", 40), core.EntityOrganization, core.ForgeGitHub, false},
		{"acme/..", core.EntityRepository, "", false},
		{"acme/a b", core.EntityRepository, "", false},
		{"acme/a;b", core.EntityRepository, "", false},
		{"../../etc", core.EntityRepository, "", false},
		{"acme/app.git", core.EntityRepository, core.ForgeGitea, false},
		{"acme/" + strings.Repeat("r", 101), core.EntityRepository, "", false},
		{"a/b/c", core.EntityRepository, "", false},
		{"ent", core.EntityEnterprise, core.ForgeGitea, false},
		{"Ünïcode", core.EntityOrganization, "", false},
	} {
		e := core.Entity{Name: tc.name, Kind: tc.kind}
		EntityDefaults(&e)
		errs := Entity(e, tc.forge)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s %q on %q: errors %v, want ok=%v", tc.kind, tc.name, tc.forge, errs, tc.ok)
		}
	}
}

func TestForge(t *testing.T) {
	f := core.Forge{Name: "ghes", Kind: core.ForgeGitHub, APIURL: "https://ghes.example/api/v3",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	ForgeDefaults(&f)
	if f.APIURL != "https://ghes.example/api/v3/" || f.WebURL != "https://ghes.example/" {
		t.Fatalf("defaults: %q %q", f.APIURL, f.WebURL)
	}
	if errs := Forge(f); len(errs) > 0 {
		t.Fatal(errs)
	}
	bad := core.Forge{Name: "g", Kind: core.ForgeGitea, APIURL: "ftp://x", Credential: core.Credential{Kind: core.CredentialApp}}
	ForgeDefaults(&bad)
	errs := Forge(bad)
	for _, field := range []string{"api_url", "web_url", "credential.kind", "credential.app_id", "credential.private_key_pem"} {
		if !errs.Has(field) {
			t.Errorf("no error for %s: %v", field, errs)
		}
	}
}
