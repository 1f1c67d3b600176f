package lxd

import (
	"context"

	"github.com/paddock-ci/paddock/internal/provider"
)

// CreateOnly does what a Create cut short after LXD made the instance, and
// before it was filled and started, leaves behind.
func CreateOnly(ctx context.Context, p *Provider, spec provider.Spec) error {
	devs, err := p.proxyDevices(spec)
	if err == nil {
		_, err = p.create(ctx, spec, devs)
	}
	return err
}

// Daemon is a client of the default project, for test set-up.
type Daemon struct{ c *client }

func NewDaemon(socket string) Daemon { return Daemon{newClient(socket, "")} }

func (d Daemon) Version(ctx context.Context) (string, error) { return d.c.serverVersion(ctx) }
func (d Daemon) ImageExists(ctx context.Context, alias string) error {
	_, err := d.c.imageAlias(ctx, alias)
	return err
}
func (d Daemon) CreateProject(ctx context.Context, name string) error {
	return d.c.createProject(ctx, name)
}

// DeleteProject force-deletes every instance in the project, then the project.
func (d Daemon) DeleteProject(ctx context.Context, name string) error {
	pc := newClient(d.c.socket, name)
	ins, err := pc.listInstances(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.Status != "Stopped" {
			_ = pc.setState(ctx, in.Name, "stop")
		}
		if err := pc.deleteInstance(ctx, in.Name); err != nil && !isNotFound(err) {
			return err
		}
	}
	return d.c.deleteProject(ctx, name)
}

// Status is an instance's LXD status ("" if missing).
func (d Daemon) Status(ctx context.Context, project, name string) string {
	in, err := newClient(d.c.socket, project).getInstance(ctx, name)
	if err != nil {
		return ""
	}
	return in.Status
}

// Instance returns an instance's config and devices.
func (d Daemon) Instance(ctx context.Context, project, name string) (map[string]string, map[string]map[string]string, error) {
	in, err := newClient(d.c.socket, project).getInstance(ctx, name)
	return in.Config, in.Devices, err
}
