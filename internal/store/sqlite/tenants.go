package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store/codec"
)

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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tenantEntitiesFree(ctx, tx, rec); err != nil {
			return err
		}
		data, err := toJSON(rec)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO tenants (id, name, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?)",
			rec.ID, rec.Name, nanos(rec.CreatedAt), nanos(rec.UpdatedAt), data)
		return mapWriteErr(fmt.Sprintf("tenant %q", rec.Name), err)
	})
	if err != nil {
		return err
	}
	*t = rec
	return nil
}

// tenantEntitiesFree checks that t's entities exist and that no other tenant
// lists them.
func tenantEntitiesFree(ctx context.Context, tx *sql.Tx, t core.Tenant) error {
	for _, e := range t.Entities {
		if err := requireEntity(ctx, tx, e); err != nil {
			return err
		}
	}
	others, err := listJSON[core.Tenant](ctx, tx, "SELECT data FROM tenants WHERE id <> ?", t.ID)
	if err != nil {
		return err
	}
	return codec.TenantEntitiesFree(t, others)
}

// GetTenant returns the tenant with that id or name.
func (s *Store) GetTenant(ctx context.Context, ref string) (core.Tenant, error) {
	return getByRef[core.Tenant](ctx, s.r, "tenants", "tenant", ref)
}

// ListTenants returns every tenant ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]core.Tenant, error) {
	return listJSON[core.Tenant](ctx, s.r, "SELECT data FROM tenants ORDER BY name")
}

// UpdateTenant replaces the tenant with t.ID. CreatedAt is kept; UpdatedAt
// is stamped. A tenant pools name cannot be renamed (ErrConflict).
func (s *Store) UpdateTenant(ctx context.Context, t *core.Tenant) error {
	if t.Name == "" {
		return errors.New("tenant: name is required")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var old core.Tenant
		err := scanJSON(tx.QueryRowContext(ctx, "SELECT data FROM tenants WHERE id = ?", t.ID), &old)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("tenant", t.ID)
		}
		if err != nil {
			return err
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
		data, err := toJSON(rec)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE tenants SET name = ?, updated_at = ?, data = ? WHERE id = ?",
			rec.Name, nanos(rec.UpdatedAt), data, rec.ID)
		if err != nil {
			return mapWriteErr(fmt.Sprintf("tenant %q", rec.Name), err)
		}
		*t = rec
		return nil
	})
}

// tenantUnused refuses (ErrConflict) when a pool shares itself with tenant name.
func tenantUnused(ctx context.Context, tx *sql.Tx, name string) error {
	pools, err := listJSON[core.Pool](ctx, tx, "SELECT data FROM pools")
	if err != nil {
		return err
	}
	return codec.TenantUnused(name, pools)
}

// DeleteTenant removes a tenant no pool names; its entities return to the
// default tenant.
func (s *Store) DeleteTenant(ctx context.Context, ref string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		t, err := getByRef[core.Tenant](ctx, tx, "tenants", "tenant", ref)
		if err != nil {
			return err
		}
		if err := tenantUnused(ctx, tx, t.Name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM tenants WHERE id = ?", t.ID)
		return mapWriteErr(fmt.Sprintf("delete tenant %q", t.Name), err)
	})
}
