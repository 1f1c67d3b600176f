package app

import (
	"maps"
	"slices"
	"testing"

	"github.com/paddock-ci/paddock/internal/config"
)

// Every provider type the config accepts can be built, and every factory
// has a config type: each side registers itself, so nothing else keeps them
// in step.
func TestEveryConfigProviderTypeHasAFactory(t *testing.T) {
	types, factories := config.ProviderTypes(), slices.Sorted(maps.Keys(providerFactories))
	if !slices.Equal(types, factories) || len(types) < 4 {
		t.Fatalf("config accepts provider types %v, app builds %v", types, factories)
	}
}
