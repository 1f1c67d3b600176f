package fence

import (
	"context"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/provider"
)

// Provider refuses Create and Delete for a context whose term may no longer
// act. Reads pass: they change nothing.
func Provider(p provider.Provider) provider.Provider { return fencedProvider{p} }

type fencedProvider struct{ provider.Provider }

func (f fencedProvider) Create(ctx context.Context, s provider.Spec) (provider.Machine, error) {
	if err := Guard(ctx); err != nil {
		return provider.Machine{}, err
	}
	return f.Provider.Create(ctx, s)
}

func (f fencedProvider) Delete(ctx context.Context, name string) error {
	if err := Guard(ctx); err != nil {
		return err
	}
	return f.Provider.Delete(ctx, name)
}

// Forges is the controller's source of forge clients.
type Forges interface {
	Client(ctx context.Context, forgeID string) (forge.Client, error)
}

// ForgeClients wraps every client fs hands out so that removing a runner
// registration is refused for a context whose term may no longer act.
// Minting a runner config is not fenced: any replica does it for the machine
// that asks, once, guarded by the store.
func ForgeClients(fs Forges) Forges { return fencedForges{fs} }

type fencedForges struct{ Forges }

func (f fencedForges) Client(ctx context.Context, forgeID string) (forge.Client, error) {
	c, err := f.Forges.Client(ctx, forgeID)
	if err != nil {
		return nil, err
	}
	return fencedClient{c}, nil
}

type fencedClient struct{ forge.Client }

func (f fencedClient) DeleteRunner(ctx context.Context, ent core.Entity, runnerID int64) error {
	if err := Guard(ctx); err != nil {
		return err
	}
	return f.Client.DeleteRunner(ctx, ent, runnerID)
}

// PoolClients is the controller's source of per-pool forge clients (the
// scale-set manager), whose DeleteRunner goes through the scale set.
type PoolClients interface {
	PoolClient(ctx context.Context, pool core.Pool, base forge.Client) (forge.Client, error)
}

// PoolClientsOf fences the clients pc hands out like ForgeClients.
func PoolClientsOf(pc PoolClients) PoolClients { return fencedPoolClients{pc} }

type fencedPoolClients struct{ PoolClients }

func (f fencedPoolClients) PoolClient(ctx context.Context, pool core.Pool, base forge.Client) (forge.Client, error) {
	c, err := f.PoolClients.PoolClient(ctx, pool, base)
	if err != nil {
		return nil, err
	}
	return fencedClient{c}, nil
}
