package core

import "strings"

// FlavorFor is the provider flavor for a machine made for the size label
// size ("" = no size label): the pool's mapping for it, else the pool's
// Flavor.
func (p Pool) FlavorFor(size string) string {
	if f, ok := p.Flavors[strings.ToLower(size)]; ok && size != "" {
		return f
	}
	return p.Flavor
}
