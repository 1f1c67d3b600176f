package config

import (
	"testing"
)

const poolBase = minimal + `forges:
  - {name: gh, kind: github, webhook_secret: env:T_ADMIN, credential: {kind: pat, token: env:T_ADMIN}}
entities:
  - {forge: gh, kind: organization, name: acme}
pools:
  - name: p
    entity: acme
    provider: local
    labels: [linux]
    max_runners: 3
`

func TestPoolExtraSpecsAndFlavors(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, poolBase+"    extra_specs: {disable_updates: true, disk: {size_gb: 20}}\n    flavors: {4CPU-16GB: large, small: tiny}\n")
	p := c.Pools[0].ToCore("e1")
	if string(p.ExtraSpecs) != `{"disable_updates":true,"disk":{"size_gb":20}}` {
		t.Errorf("extra_specs = %s", p.ExtraSpecs)
	}
	if p.FlavorFor("4cpu-16gb") != "large" || p.FlavorFor("small") != "tiny" || p.FlavorFor("") != "" || len(p.Flavors) != 2 {
		t.Errorf("flavors = %v", p.Flavors)
	}
	cases := []struct{ name, src, want string }{
		{"extra_specs not a mapping", "    extra_specs: [a]\n", "pools[0].extra_specs: must be a mapping of the provider's settings"},
		{"paddock's own key", "    extra_specs: {runner_install_template: eA==}\n", "extra_specs.runner_install_template is set by Paddock"},
		{"not a size label", "    flavors: {huge: x}\n", `flavors: "huge" is not a size label`},
		{"empty flavor", "    flavors: {2cpu-4gb: ''}\n", `flavors["2cpu-4gb"] must be a provider flavor name`},
		{"flavor not a string", "    flavors: {2cpu-4gb: [a]}\n", "pools[0].flavors.2cpu-4gb: must be a string"},
	}
	for _, c := range cases {
		wantProblem(t, c.name, poolBase+c.src, c.want)
	}
}
