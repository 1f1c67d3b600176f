package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/check"
)

// prices checks the price table: negative prices, unknown providers, and a
// pool whose flavor (or size flavor) has no price, each at its line.
func (v *validator) prices() {
	if v.c.Prices == nil {
		return
	}
	t := *v.c.Prices
	given := func(field string) bool { return v.p.set["prices."+field] }
	check.PriceDefaults(&t, given)
	var providers []string
	for _, p := range v.c.Providers {
		providers = append(providers, p.Name)
	}
	var machines []check.Machine
	for i, pl := range v.c.Pools {
		path := fmt.Sprintf("pools[%d]", i)
		field := path + ".flavor"
		if !v.p.set[field] {
			field = path + ".provider"
		}
		machines = append(machines, check.Machine{Field: field, Provider: pl.Provider, Flavor: pl.Flavor})
		for _, size := range slices.Sorted(maps.Keys(pl.Flavors)) {
			machines = append(machines, check.Machine{Field: path + ".flavors." + size, Provider: pl.Provider,
				Flavor: pl.Flavors[size]})
		}
	}
	for _, fe := range check.Prices(t, providers, machines, given) {
		if strings.HasPrefix(fe.Field, "pools[") {
			v.p.at(fe.Field, "%s", fe.Message)
		} else {
			v.p.at("prices."+fe.Field, "%s", fe.Message)
		}
	}
}
