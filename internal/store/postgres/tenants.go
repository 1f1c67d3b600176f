package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

// lockTenants serialises tenant writes across replicas: "an entity belongs to
// at most one tenant" spans rows, so two replicas each adding the same entity
// to a different tenant must not both pass the check. Tenant writes are rare
// operator actions, so a table lock costs nothing that matters.
func lockTenants(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE")
	return wrap(err)
}

// CreateTenant stores t, filling its ID (if empty) and timestamps. Its
// entities must exist and belong to no other tenant.
func (s *Store) CreateTenant(ctx context.Context, t *core.Tenant) error {
	if t.Name == "" {
		return errors.New("tenant: name is required")
	}
	rec := *t
	if rec.ID == "" {
		rec.ID = newID()
	}
	rec.CreatedAt = now()
	rec.UpdatedAt = rec.CreatedAt
	data, err := codec.ToJSON(rec)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockTenants(ctx, tx); err != nil {
			return err
		}
		if err := tenantEntitiesFree(ctx, tx, rec); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO tenants (id, name, created_at, updated_at, data) VALUES ($1, $2, $3, $4, $5)",
			rec.ID, rec.Name, codec.Nanos(rec.CreatedAt), codec.Nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("tenant %q", rec.Name), err)
	})
	if err != nil {
		return err
	}
	*t = rec
	return nil
}

// tenantEntitiesFree checks that t's entities exist (share-locked, so a
// concurrent delete waits) and that no other tenant lists them.
func tenantEntitiesFree(ctx context.Context, tx pgx.Tx, t core.Tenant) error {
	for _, e := range t.Entities {
		if err := shareRow(ctx, tx, "entities", "entity", e); err != nil {
			return err
		}
	}
	others, err := listJSON[core.Tenant](ctx, tx, "SELECT data FROM tenants WHERE id <> $1", t.ID)
	if err != nil {
		return err
	}
	return codec.TenantEntitiesFree(t, others)
}

// GetTenant returns the tenant with that id or name.
func (s *Store) GetTenant(ctx context.Context, ref string) (core.Tenant, error) {
	return getByRef[core.Tenant](ctx, s.pool, "tenants", "tenant", ref, "")
}

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]core.Tenant, error) {
	return listJSON[core.Tenant](ctx, s.pool, "SELECT data FROM tenants ORDER BY name")
}

// UpdateTenant replaces the tenant with t.ID. CreatedAt is kept; UpdatedAt
// is stamped. A tenant pools name cannot be renamed (ErrConflict).
func (s *Store) UpdateTenant(ctx context.Context, t *core.Tenant) error {
	if t.Name == "" {
		return errors.New("tenant: name is required")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockTenants(ctx, tx); err != nil {
			return err
		}
		var old core.Tenant
		err := scanJSON(tx.QueryRow(ctx, "SELECT data FROM tenants WHERE id = $1 FOR UPDATE", t.ID), &old)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("tenant", t.ID)
		}
		if err != nil {
			return wrap(err)
		}
		if old.Name != t.Name {
			if err := tenantUnused(ctx, tx, old.Name); err != nil {
				return err
			}
		}
		if err := tenantEntitiesFree(ctx, tx, *t); err != nil {
			return err
		}
		rec := *t
		rec.CreatedAt, rec.UpdatedAt = old.CreatedAt, now()
		data, err := codec.ToJSON(rec)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE tenants SET name = $1, updated_at = $2, data = $3 WHERE id = $4",
			rec.Name, codec.Nanos(rec.UpdatedAt), data, rec.ID); err != nil {
			return mapWriteErr(fmt.Sprintf("tenant %q", rec.Name), err)
		}
		*t = rec
		return nil
	})
}

// tenantUnused refuses (ErrConflict) when a pool shares itself with tenant name.
func tenantUnused(ctx context.Context, tx pgx.Tx, name string) error {
	pools, err := listJSON[core.Pool](ctx, tx, "SELECT data FROM pools")
	if err != nil {
		return err
	}
	return codec.TenantUnused(name, pools)
}

// DeleteTenant removes a tenant no pool names; its entities return to the
// default tenant.
func (s *Store) DeleteTenant(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockTenants(ctx, tx); err != nil {
			return err
		}
		t, err := getByRef[core.Tenant](ctx, tx, "tenants", "tenant", ref, " FOR UPDATE")
		if err != nil {
			return err
		}
		if err := tenantUnused(ctx, tx, t.Name); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM tenants WHERE id = $1", t.ID)
		return mapWriteErr(fmt.Sprintf("delete tenant %q", t.Name), err)
	})
}
