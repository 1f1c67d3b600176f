package codec

import (
	"fmt"
	"slices"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// TenantEntitiesFree refuses (ErrConflict) an entity of t that another
// tenant already lists: an entity belongs to at most one tenant. others are
// every tenant but t, read in the caller's transaction.
func TenantEntitiesFree(t core.Tenant, others []core.Tenant) error {
	for _, o := range others {
		for _, e := range t.Entities {
			if slices.Contains(o.Entities, e) {
				return fmt.Errorf("entity %s already belongs to tenant %q: %w", e, o.Name, store.ErrConflict)
			}
		}
	}
	return nil
}

// TenantUnused refuses (ErrConflict) renaming or deleting a tenant a pool
// shares itself with.
func TenantUnused(name string, pools []core.Pool) error {
	for _, p := range pools {
		if slices.Contains(p.Tenants, name) {
			return fmt.Errorf("tenant %q is used by pool %q: %w", name, p.Name, store.ErrConflict)
		}
	}
	return nil
}
