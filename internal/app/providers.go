package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/process"
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
// type registers itself from its own file, so adding one touches no other.
var providerFactories = map[string]func(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error){
	"process": newProcessProvider,
}

func newProcessProvider(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error) {
	dir := filepath.Join(env.Config.StateDir, "machines", pc.Name)
	cmd := env.BootCommand
	if pc.Process != nil {
		if pc.Process.WorkDir != "" {
			dir = pc.Process.WorkDir
		}
		if len(pc.Process.RunnerCommand) > 0 {
			cmd = pc.Process.RunnerCommand
		}
	}
	return process.New(process.Options{StateDir: dir, ControllerID: env.ControllerID, Command: cmd})
}

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
