package config

import (
	"strings"
	"testing"
)

// Lines: sharingBase is 14 lines; the pools block starts at 15.
const pricedPools = sharingBase + `pools:
  - {name: small, entity: libbar, provider: local, max_runners: 1, labels: [x], flavor: s1}
  - name: sized
    entity: libbar
    provider: local
    max_runners: 1
    labels: [x]
    flavors: {4cpu-16gb: big}
`

func TestPricesConfig(t *testing.T) {
	setBaseEnv(t)
	c := mustParse(t, pricedPools+`prices:
  currency: USD
  machines:
    - {provider: local, flavor: s1, per_minute: 0.001, start_fee: 0.01}
    - {provider: local, flavor: big, per_minute: 1}
    - {provider: local, per_minute: 0}
`)
	p := c.Prices
	if p == nil || p.Currency != "USD" || len(p.Prices) != 3 || p.Prices[0].PerMinute != 0.001 || p.Prices[0].StartFee != 0.01 ||
		p.Prices[1].PerMinute != 1 {
		t.Fatalf("prices = %+v", p)
	}
	if r, ok := p.ReferenceFor("linux", 2); !ok || r.PerMinute != 0.008 {
		t.Fatalf("default reference for linux 2 cpu = %+v %v, want GitHub's 0.008", r, ok)
	}
	c = mustParse(t, pricedPools+`prices:
  currency: EUR
  machines:
    - {provider: local, flavor: s1, per_minute: 0.001}
    - {provider: local, flavor: big, per_minute: 1}
    - {provider: local, per_minute: 0}
  reference:
    - {os: linux, cpu: 2, per_minute: 0.007}
`)
	if len(c.Prices.Reference) != 1 || c.Prices.Reference[0].PerMinute != 0.007 {
		t.Fatalf("configured reference = %+v", c.Prices.Reference)
	}
}

func TestPricesConfigErrors(t *testing.T) {
	setBaseEnv(t)
	full := "prices:\n  machines:\n    - {provider: local, flavor: s1, per_minute: 0.001}\n    - {provider: local, flavor: big, per_minute: 1}\n"
	for _, tc := range []struct{ name, src, want string }{
		{"flavor used by a pool has no price", pricedPools + "prices:\n  machines:\n    - {provider: local, flavor: big, per_minute: 1}\n",
			`paddock.yaml:16: pools[0].flavor: no price for provider "local" flavor "s1": add {provider: local, flavor: "s1", per_minute: …} under prices.machines`},
		{"size flavor has no price", pricedPools + "prices:\n  machines:\n    - {provider: local, flavor: s1, per_minute: 1}\n",
			`paddock.yaml:22: pools[1].flavors.4cpu-16gb: no price for provider "local" flavor "big"`},
		{"negative price", pricedPools + full + "    - {provider: local, flavor: x, per_minute: -0.5}\n",
			`paddock.yaml:27: prices.machines[2].per_minute: must not be negative, got -0.5`},
		{"negative start fee", pricedPools + full + "    - {provider: local, flavor: x, per_minute: 1, start_fee: -1}\n",
			`paddock.yaml:27: prices.machines[2].start_fee: must not be negative, got -1`},
		{"unknown provider", pricedPools + full + "    - {provider: aws, flavor: x, per_minute: 1}\n",
			`paddock.yaml:27: prices.machines[2].provider: unknown provider "aws" (declared: [local])`},
		{"not a number", pricedPools + full + "    - {provider: local, flavor: x, per_minute: cheap}\n",
			`paddock.yaml:27: prices.machines[2].per_minute: must be a number such as 0.008, got "cheap"`},
		{"bad currency", pricedPools + strings.Replace(full, "prices:\n", "prices:\n  currency: dollars\n", 1),
			`paddock.yaml:24: prices.currency: must be a three-letter code such as USD or EUR, got "dollars"`},
		{"non-USD currency without a reference", pricedPools + strings.Replace(full, "prices:\n", "prices:\n  currency: EUR\n", 1),
			`prices.currency: the default reference prices (GitHub-hosted runners) are in USD: give prices.reference in EUR`},
		{"duplicate price", pricedPools + full + "    - {provider: local, flavor: s1, per_minute: 2}\n",
			`paddock.yaml:27: prices.machines[2].flavor: provider "local" flavor "s1" already has a price at machines[0]`},
		{"bad reference", pricedPools + full + "  reference:\n    - {os: beos, cpu: 0, per_minute: 1}\n",
			`prices.reference[0].os: must be linux, windows or macos, got "beos"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "paddock.yaml", t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
