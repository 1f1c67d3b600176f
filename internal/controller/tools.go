package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// toolListTTL is how long a forge's runner download list is trusted. It
// changes when the forge publishes a runner release (weeks apart), while
// every machine boot needs it; GitHub's API budget is shared by every
// installation of the app, so it is asked about once an hour per entity.
const toolListTTL = time.Hour

// toolCache keeps each forge entity's runner download list. Machines that
// boot together share one list call (singleflight); a failed call caches
// nothing, and a machine reporting a failed bootstrap drops its entity's
// list, since a stale download URL or checksum is one cause of that.
type toolCache struct {
	mu    sync.Mutex
	items map[string]toolEntry
	group singleflight.Group
}

type toolEntry struct {
	tools []forge.RunnerTool
	at    time.Time
}

func newToolCache() *toolCache { return &toolCache{items: map[string]toolEntry{}} }

func toolKey(ent core.Entity) string { return ent.ForgeID + "/" + ent.ID }

// pick returns the download for a pool's os_type and arch.
func (t *toolCache) pick(ctx context.Context, client forge.Client, ent core.Entity, osType, arch string) (forge.RunnerTool, error) {
	tools, err := t.list(ctx, client, ent)
	if err != nil {
		return forge.RunnerTool{}, err
	}
	return forge.PickRunnerTool(tools, osType, arch)
}

func (t *toolCache) list(ctx context.Context, client forge.Client, ent core.Entity) ([]forge.RunnerTool, error) {
	key := toolKey(ent)
	t.mu.Lock()
	e, ok := t.items[key]
	t.mu.Unlock()
	if ok && time.Since(e.at) < toolListTTL {
		return e.tools, nil
	}
	v, err, _ := t.group.Do(key, func() (any, error) {
		// Other machines wait on this call: one that gives up must not
		// cancel it for them, but the call keeps its deadline.
		lctx := context.WithoutCancel(ctx)
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			lctx, cancel = context.WithDeadline(lctx, dl)
			defer cancel()
		}
		tools, err := client.RunnerDownloads(lctx, ent)
		if err != nil {
			t.forget(ent)
			return nil, fmt.Errorf("runner downloads: %w", err)
		}
		t.mu.Lock()
		t.items[key] = toolEntry{tools: tools, at: time.Now()}
		t.mu.Unlock()
		return tools, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]forge.RunnerTool), nil
}

// forget drops an entity's list so the next machine asks the forge again.
func (t *toolCache) forget(ent core.Entity) {
	t.mu.Lock()
	delete(t.items, toolKey(ent))
	t.mu.Unlock()
}

// forgetToolsOf drops the download list a failed machine's config came from.
func (c *Controller) forgetToolsOf(ctx context.Context, poolID string) {
	pool, err := c.o.Store.GetPool(ctx, poolID)
	if err != nil {
		return
	}
	if ent, err := c.o.Store.GetEntity(ctx, pool.EntityID); err == nil {
		c.tools.forget(ent)
	}
}

// OSTypeForToken names the os_type of the pool a machine's instance belongs
// to, so the metadata endpoint serves it an install script it can run. Like
// InstanceForToken it works only while the runner is being installed and
// does not spend the token.
func (c *Controller) OSTypeForToken(ctx context.Context, token string) (string, error) {
	inst, err := c.InstanceForToken(ctx, token)
	if err != nil {
		return "", err
	}
	pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
	if err != nil {
		return "", err
	}
	return pool.OSType, nil
}
