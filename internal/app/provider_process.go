package app

import (
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/process"
)

func init() { providerFactories["process"] = newProcessProvider }

// newProcessProvider runs each machine as a local process (no isolation).
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
