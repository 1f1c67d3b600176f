package app

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
)

// BuildProvider makes the one provider a provider file (config.LoadProviderFile)
// declares, with the same factories `paddock serve` uses, for
// `paddock provider-exec`.
func BuildProvider(cfg *config.Config, controllerID string, log *slog.Logger) (provider.Provider, error) {
	if len(cfg.Providers) != 1 {
		return nil, fmt.Errorf("want exactly one provider, got %d", len(cfg.Providers))
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pc := cfg.Providers[0]
	f, ok := providerFactories[pc.Type]
	if !ok {
		return nil, fmt.Errorf("provider type %q is not available in this build", pc.Type)
	}
	return f(pc, ProviderEnv{Config: cfg, ControllerID: controllerID, BootCommand: []string{self, "machine-boot"},
		Self: self, Logger: log})
}
