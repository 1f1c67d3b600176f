package check

import (
	"fmt"
	"math"
	"slices"

	"github.com/paddock-ci/paddock/internal/core"
)

// MaxPricePerMinute bounds a price so sums over a year of machines stay exact
// enough in float64; no real machine costs more per minute.
const MaxPricePerMinute = 1_000

// Machine is a pool's priced machine kind: its provider and flavor (or size
// label mapped to a flavor). Field is where the caller reports a missing price.
type Machine struct {
	Field    string
	Provider string
	Flavor   string
}

// PriceDefaults fills the reference table with GitHub's hosted prices when
// the input did not give one (given("reference") false).
func PriceDefaults(t *core.PriceTable, given func(field string) bool) {
	if t.Currency == "" {
		t.Currency = "USD"
	}
	if !given("reference") && t.Reference == nil {
		t.Reference = core.GitHubHostedPrices()
	}
}

// Prices checks a price table (after PriceDefaults) against the providers
// that exist and the machines pools make: every one of those must have a
// price, so that no cost is silently 0. Fields are relative to the table,
// except a machine's, which is m.Field.
func Prices(t core.PriceTable, providers []string, machines []Machine, given func(field string) bool) Errors {
	var e Errors
	if len(t.Currency) != 3 || t.Currency != upperASCII(t.Currency) {
		e.add("currency", "must be a three-letter code such as USD or EUR, got %q", t.Currency)
	} else if t.Currency != "USD" && !given("reference") {
		e.add("currency", "the default reference prices (GitHub-hosted runners) are in USD: give prices.reference in %s, "+
			"or write reference: [] to compare with nothing", t.Currency)
	}
	seen := map[[2]string]int{}
	for i, p := range t.Prices {
		f := fmt.Sprintf("machines[%d]", i)
		switch {
		case p.Provider == "":
			e.add(f+".provider", "required (a provider name declared under providers)")
		case !slices.Contains(providers, p.Provider):
			e.add(f+".provider", "unknown provider %q (declared: %v)", p.Provider, providers)
		}
		if first, dup := seen[[2]string{p.Provider, p.Flavor}]; dup {
			e.add(f+".flavor", "provider %q flavor %q already has a price at machines[%d]", p.Provider, p.Flavor, first)
		}
		seen[[2]string{p.Provider, p.Flavor}] = i
		e.price(f+".per_minute", p.PerMinute)
		e.price(f+".start_fee", p.StartFee)
	}
	for i, r := range t.Reference {
		f := fmt.Sprintf("reference[%d]", i)
		if r.OS != "linux" && r.OS != "windows" && r.OS != "macos" {
			e.add(f+".os", "must be linux, windows or macos, got %q", r.OS)
		}
		if r.CPU < 1 {
			e.add(f+".cpu", "must be at least 1, got %d", r.CPU)
		}
		e.price(f+".per_minute", r.PerMinute)
	}
	for _, m := range machines {
		if _, ok := t.Lookup(m.Provider, m.Flavor); !ok && slices.Contains(providers, m.Provider) {
			flavor := fmt.Sprintf("flavor %q", m.Flavor)
			if m.Flavor == "" {
				flavor = "without a flavor"
			}
			e.add(m.Field, "no price for provider %q %s: add {provider: %s, flavor: %q, per_minute: …} under prices.machines",
				m.Provider, flavor, m.Provider, m.Flavor)
		}
	}
	return e
}

func (e *Errors) price(field string, v float64) {
	switch {
	case math.IsNaN(v) || v < 0:
		e.add(field, "must not be negative, got %v", v)
	case v > MaxPricePerMinute:
		e.add(field, "must be ≤ %d", MaxPricePerMinute)
	}
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 'A' || c > 'Z' {
			b[i] = 0
		}
	}
	return string(b)
}
