package forge

import (
	"slices"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// An entity served only by shared pools still polls with their labels:
// without them a labelled lister (Forgejo) would find none of its jobs.
func TestPoolLabelsSharedPools(t *testing.T) {
	pools := []core.Pool{
		{EntityID: "home", Labels: []string{"own"}, Enabled: true},
		{EntityID: "home", Entities: []string{"guest"}, Labels: []string{"listed"}, Enabled: true},
		{EntityID: "home", Tenants: []string{core.AllTenants}, Labels: []string{"all"}, Enabled: true},
		{EntityID: "home", Entities: []string{"guest"}, Labels: []string{"off"}},
	}
	if got := PoolLabels(pools, "guest"); !slices.Equal(got, []string{"listed", "all"}) {
		t.Fatalf("guest labels %v, want [listed all]", got)
	}
	if got := PoolLabels(pools, "home"); !slices.Equal(got, []string{"own", "listed", "all"}) {
		t.Fatalf("home labels %v", got)
	}
}
