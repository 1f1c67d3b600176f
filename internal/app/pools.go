package app

import (
	"context"
	"log/slog"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// disableInvalidPools disables every enabled pool whose stored values the
// current rules refuse (written by an older version, or by hand). Such a row
// used to reach the scheduler as it was: a min_idle of 10⁹ planned 10⁹
// machines and took the manager down on every start. Disabled, the pool
// keeps its busy machines until their jobs end, and the operator is told
// what to fix; the API lets them fix it and enable the pool again.
func disableInvalidPools(ctx context.Context, st store.Store, log *slog.Logger) error {
	pools, err := st.ListPools(ctx)
	if err != nil {
		return err
	}
	for _, p := range pools {
		check.PoolStored(&p)
		errs := check.Pool(p)
		if len(errs) == 0 || !p.Enabled {
			continue
		}
		_, err := st.ModifyPool(ctx, p.ID, func(cur *core.Pool) error {
			cur.Enabled = false
			return nil
		})
		if err != nil {
			return err
		}
		log.Error("pool disabled: its stored settings are invalid; fix them and enable it again (paddock pool update "+p.Name+" ... --enabled=true)",
			"pool", p.Name, "problems", errs.Error())
	}
	return nil
}
