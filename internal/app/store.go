package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/postgres"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// openStore opens the backend store.driver names. The postgres DSN is a
// secret: errors name the host and database (the store's own message), never
// the string itself.
func openStore(ctx context.Context, c config.StoreConfig, box *secretbox.Box) (store.Store, error) {
	switch c.Driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o700); err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, c.Path, box)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", c.Path, err)
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, string(c.DSN), box)
		if err != nil {
			return nil, fmt.Errorf("open store (store.driver: postgres): %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("store.driver %q is not supported by this build (use sqlite or postgres)", c.Driver)
}
