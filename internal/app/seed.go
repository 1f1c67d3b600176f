package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// seed upserts the forges, entities and pools declared in the config, by
// name, so a config file can be the source of truth (objects made through the
// API are left alone).
func seed(ctx context.Context, st store.Store, cfg *config.Config) error {
	forgeIDs := map[string]string{}
	for _, fc := range cfg.Forges {
		f := fc.ToCore()
		cur, err := st.GetForge(ctx, fc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := st.CreateForge(ctx, &f); err != nil {
				return fmt.Errorf("forge %s: %w", fc.Name, err)
			}
		case err != nil:
			return err
		default:
			f.ID, f.CreatedAt = cur.ID, cur.CreatedAt
			if err := st.UpdateForge(ctx, &f); err != nil {
				return fmt.Errorf("forge %s: %w", fc.Name, err)
			}
		}
		forgeIDs[fc.Name] = f.ID
	}
	ents, err := st.ListEntities(ctx)
	if err != nil {
		return err
	}
	entityIDs := map[string]string{} // forge name + "/" + entity name → id
	for _, ec := range cfg.Entities {
		fid, ok := forgeIDs[ec.Forge]
		if !ok {
			f, err := st.GetForge(ctx, ec.Forge)
			if err != nil {
				return fmt.Errorf("entity %s: forge %s: %w", ec.Name, ec.Forge, err)
			}
			fid = f.ID
		}
		e := ec.ToCore(fid)
		for _, cur := range ents {
			if cur.ForgeID == fid && cur.Kind == e.Kind && cur.Name == e.Name {
				e.ID, e.CreatedAt = cur.ID, cur.CreatedAt
			}
		}
		if e.ID == "" {
			err = st.CreateEntity(ctx, &e)
		} else {
			err = st.UpdateEntity(ctx, &e)
		}
		if err != nil {
			return fmt.Errorf("entity %s: %w", ec.Name, err)
		}
		entityIDs[ec.Forge+"/"+ec.Name] = e.ID
		entityIDs[ec.Name] = e.ID
	}
	resolve := func(ref string) (string, error) {
		forge, name := config.SplitEntityRef(ref)
		if id := entityIDs[forge+"/"+name]; forge != "" && id != "" {
			return id, nil
		}
		if id := entityIDs[name]; forge == "" && id != "" {
			return id, nil
		}
		e, err := st.GetEntity(ctx, name)
		return e.ID, err
	}
	if err := seedTenants(ctx, st, cfg, resolve); err != nil {
		return err
	}
	for _, pc := range cfg.Pools {
		eid := entityIDs[pc.Forge+"/"+pc.Entity]
		if eid == "" {
			eid = entityIDs[pc.Entity]
		}
		if eid == "" {
			e, err := st.GetEntity(ctx, pc.Entity)
			if err != nil {
				return fmt.Errorf("pool %s: entity %s: %w", pc.Name, pc.Entity, err)
			}
			eid = e.ID
		}
		p := pc.ToCore(eid)
		for _, ref := range pc.Entities {
			id, err := resolve(ref)
			if err != nil {
				return fmt.Errorf("pool %s: entity %s: %w", pc.Name, ref, err)
			}
			p.Entities = append(p.Entities, id)
		}
		cur, err := st.GetPool(ctx, pc.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = st.CreatePool(ctx, &p)
		case err != nil:
		default:
			p.ID, p.CreatedAt = cur.ID, cur.CreatedAt
			err = st.UpdatePool(ctx, &p)
		}
		if err != nil {
			return fmt.Errorf("pool %s: %w", pc.Name, err)
		}
	}
	return nil
}

// seedTenants upserts the config's tenants by name. An entity moving from
// one declared tenant to another is first taken out of the old one, so the
// store's one-tenant-per-entity rule holds at every step.
func seedTenants(ctx context.Context, st store.Store, cfg *config.Config, resolve func(string) (string, error)) error {
	want := make([]core.Tenant, len(cfg.Tenants))
	for i, tc := range cfg.Tenants {
		ids := []string{}
		for _, ref := range tc.Entities {
			id, err := resolve(ref)
			if err != nil {
				return fmt.Errorf("tenant %s: entity %s: %w", tc.Name, ref, err)
			}
			ids = append(ids, id)
		}
		want[i] = tc.ToCore(ids)
		check.TenantDefaults(&want[i], func(string) bool { return false })
	}
	cur, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	for _, c := range cur { // release entities the config gives elsewhere
		keep := slices.DeleteFunc(slices.Clone(c.Entities), func(e string) bool {
			return slices.ContainsFunc(want, func(w core.Tenant) bool { return w.Name != c.Name && slices.Contains(w.Entities, e) })
		})
		if len(keep) != len(c.Entities) {
			c.Entities = keep
			if err := st.UpdateTenant(ctx, &c); err != nil {
				return fmt.Errorf("tenant %s: %w", c.Name, err)
			}
		}
	}
	for _, t := range want {
		old, err := st.GetTenant(ctx, t.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = st.CreateTenant(ctx, &t)
		case err != nil:
		default:
			t.ID, t.CreatedAt = old.ID, old.CreatedAt
			err = st.UpdateTenant(ctx, &t)
		}
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Name, err)
		}
	}
	return nil
}
