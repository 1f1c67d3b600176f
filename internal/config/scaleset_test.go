package config

import (
	"strings"
	"testing"
)

func TestScaleSetPool(t *testing.T) {
	setBaseEnv(t)
	base := minimal + `forges:
  - {name: gh, kind: github, api_url: "https://api.github.com/", web_url: "https://github.com/", credential: {kind: pat, token: x}}
entities:
  - {forge: gh, kind: organization, name: acme, intake: poll}
pools:
`
	c := mustParse(t, base+"  - {name: ss, entity: acme, provider: local, max_runners: 4, scale_set: true, labels: [self-hosted, arc-linux]}\n")
	p := c.Pools[0].ToCore("e1")
	if !p.ScaleSet || p.ScaleSetName() != "arc-linux" {
		t.Fatalf("pool = %+v, scale set name %q", p, p.ScaleSetName())
	}
	for _, tc := range []struct{ name, pools, want string }{
		{"no name", "  - {name: ss, entity: acme, provider: local, max_runners: 2, scale_set: true, labels: [self-hosted]}\n",
			"pools[0].labels: a scale_set pool needs a label other than self-hosted"},
		{"sizes", "  - {name: ss, entity: acme, provider: local, max_runners: 2, scale_set: true, labels: [a], sizes: {max_cpu: 2, max_memory_gb: 2}}\n",
			"pools[0].sizes: not available with scale_set"},
		{"same scale set twice", "  - {name: a, entity: acme, provider: local, max_runners: 2, scale_set: true, labels: [x]}\n" +
			"  - {name: b, entity: acme, provider: local, max_runners: 2, scale_set: true, labels: [X]}\n",
			`scale set "X" is already served by pools[0] (a)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := parseErr(t, base+tc.pools)
			var all []string
			for _, p := range probs {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("want a problem containing %q; got:\n%s", tc.want, strings.Join(all, "\n"))
			}
		})
	}
}
