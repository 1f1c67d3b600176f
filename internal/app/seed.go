package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/paddock-ci/paddock/internal/config"
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
