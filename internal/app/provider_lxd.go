package app

import (
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

func init() { providerFactories["lxd"] = newLXDProvider }

// newLXDProvider runs one LXD system container per instance on the daemon
// behind the configured unix socket.
func newLXDProvider(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error) {
	l := pc.LXD
	if l == nil {
		l = &config.LXDConfig{}
	}
	return lxd.New(lxd.Options{
		ControllerID: env.ControllerID, Socket: l.Socket, Project: l.Project, Image: l.Image, Profiles: l.Profiles,
		Network: l.Network, StoragePool: l.StoragePool, CPU: l.CPU, MemoryMB: l.MemoryMB,
		MaxCPU: l.MaxCPU, MaxMemoryMB: l.MaxMemoryMB, Forward: l.Forward, Logger: env.Logger,
	})
}
