package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forge/github"
	"github.com/paddock-ci/paddock/internal/metrics"
	"github.com/paddock-ci/paddock/internal/store"
)

// forgeClients builds one API client per forge and rebuilds it when the
// forge's record (URL, credential) changes.
type forgeClients struct {
	st store.Store
	m  *metrics.Metrics
	// downloads are the configured runner_downloads by forge name (Gitea
	// and Forgejo publish no download list).
	downloads map[string][]forge.RunnerTool

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	client  forge.Client
	updated time.Time
}

func newForgeClients(st store.Store, m *metrics.Metrics, cfg *config.Config) *forgeClients {
	fc := &forgeClients{st: st, m: m, clients: map[string]cachedClient{}, downloads: map[string][]forge.RunnerTool{}}
	for _, f := range cfg.Forges {
		for _, d := range f.RunnerDownloads {
			t := forge.RunnerTool{OS: d.OS, Architecture: d.Architecture, DownloadURL: d.URL, SHA256: d.SHA256, Filename: d.Filename}
			if t.OS == "" {
				t.OS = "linux"
			}
			if t.Architecture == "" {
				t.Architecture = "x64"
			}
			fc.downloads[f.Name] = append(fc.downloads[f.Name], t)
		}
	}
	return fc
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
	case core.ForgeGitea, core.ForgeForgejo:
		// New asks the forge for its version, so a cached client also caches that answer.
		c, err = gitea.New(ctx, f, gitea.Options{Metrics: fc.m, Downloads: fc.downloads[f.Name]})
	default:
		err = fmt.Errorf("forge %s: kind %q is not supported by this build", f.Name, f.Kind)
	}
	if err != nil {
		return nil, err
	}
	fc.clients[f.ID] = cachedClient{client: c, updated: f.UpdatedAt}
	return c, nil
}

// checkForgeVersions builds a client for every Gitea and Forgejo forge, which
// detects its version. A forge too old for Paddock stops the start with an
// error naming the version; one that cannot be reached is only logged, since
// the controller retries it.
func (fc *forgeClients) checkForgeVersions(ctx context.Context, log *slog.Logger) error {
	forges, err := fc.st.ListForges(ctx)
	if err != nil {
		return err
	}
	for _, f := range forges {
		if f.Kind != core.ForgeGitea && f.Kind != core.ForgeForgejo {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := fc.Client(cctx, f.ID)
		cancel()
		switch {
		case errors.Is(err, gitea.ErrTooOld):
			return err
		case err != nil:
			log.Warn("forge not checked at start", "forge", f.Name, "err", err)
		}
	}
	return nil
}
