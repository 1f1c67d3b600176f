package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// forgeClients builds one API client per forge and rebuilds it when the
// forge's record (URL, credential) changes.
type forgeClients struct {
	st store.Store
	m  *metrics.Metrics

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	client  forge.Client
	updated time.Time
}

func newForgeClients(st store.Store, m *metrics.Metrics) *forgeClients {
	return &forgeClients{st: st, m: m, clients: map[string]cachedClient{}}
}

func (fc *forgeClients) Client(ctx context.Context, forgeID string) (forge.Client, error) {
	f, err := fc.st.GetForge(ctx, forgeID)
	if err != nil {
		return nil, err
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if c, ok := fc.clients[f.ID]; ok && c.updated.Equal(f.UpdatedAt) {
		return c.client, nil
	}
	var c forge.Client
	switch f.Kind {
	case core.ForgeGitHub:
		c, err = github.New(f, github.Options{Metrics: fc.m})
	default:
		err = fmt.Errorf("forge %s: kind %q is not supported by this build", f.Name, f.Kind)
	}
	if err != nil {
		return nil, err
	}
	fc.clients[f.ID] = cachedClient{client: c, updated: f.UpdatedAt}
	return c, nil
}
