package app

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
)

// ProviderEnv is what every provider factory may need besides its own config.
type ProviderEnv struct {
	Config       *config.Config
	ControllerID string
	// BootCommand starts the machine bootstrap on this host (the process
	// provider runs it directly; VM providers put the binary in the image).
	BootCommand []string
	// Self is this paddock binary.
	Self string
	// Logger is the manager's logger.
	Logger *slog.Logger
}

// providerFactories maps a provider type to its constructor. Each provider
// type registers itself from its own file (provider_<type>.go), so adding one
// touches no other file of this package.
var providerFactories = map[string]func(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error){}

func buildProviders(cfg *config.Config, controllerID string, boot []string, log *slog.Logger) (map[string]provider.Provider, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if len(boot) == 0 {
		boot = []string{self, "machine-boot"}
	}
	env := ProviderEnv{Config: cfg, ControllerID: controllerID, BootCommand: boot, Self: self, Logger: log}
	out := map[string]provider.Provider{}
	for _, pc := range cfg.Providers {
		f, ok := providerFactories[pc.Type]
		if !ok {
			return nil, fmt.Errorf("provider %q: type %q is not available in this build", pc.Name, pc.Type)
		}
		p, err := f(pc, env)
		if err != nil {
			return nil, fmt.Errorf("provider %q: %w", pc.Name, err)
		}
		out[pc.Name] = p
	}
	return out, nil
}
