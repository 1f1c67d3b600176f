package app

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

func init() { providerFactories["external"] = newExternalProvider }

// newExternalProvider runs a GARM-protocol executable. The adapter's own
// memory (which pools and machines it has asked for) lives in the state dir,
// so a restarted manager still lists every pool's machines.
func newExternalProvider(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error) {
	e := pc.External
	if e == nil {
		return nil, errors.New("external provider: the external block is missing")
	}
	dir := filepath.Join(env.Config.StateDir, "external", pc.Name)
	o := external.Options{
		Executable: e.ProviderExecutable, ConfigFile: e.ConfigFile, InterfaceVersion: e.InterfaceVersion,
		ControllerID: env.ControllerID, EnvPrefixes: e.EnvironmentVariables, Timeout: e.ExecTimeout,
		StateFile: filepath.Join(dir, "state.json"), Logger: env.Logger.With("provider", pc.Name),
	}
	if e.CACertBundle != "" {
		b, err := config.LoadCABundle(e.CACertBundle)
		if err != nil {
			return nil, fmt.Errorf("external provider %s: %w", pc.Name, err)
		}
		o.CACertBundle = b
	}
	if px := e.Proxy; px != nil {
		o.Proxy = external.ProxyConfig{HTTPProxy: px.HTTPProxy, HTTPSProxy: px.HTTPSProxy, NoProxy: px.NoProxy}
	}
	return external.New(o)
}
