package lxd

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Admin does the few set-up calls a demo or test needs besides the
// provider's own: it checks the daemon and image and manages a profile.
type Admin struct{ c *client }

// NewAdmin talks to the daemon at socket ("" = DefaultSocket), in project.
func NewAdmin(socket, project string) Admin {
	if socket == "" {
		socket = DefaultSocket
	}
	return Admin{newClient(socket, project)}
}

// Check says what is missing for containers from alias: the daemon or the image.
func (a Admin) Check(ctx context.Context, alias string) error {
	v, err := a.c.serverVersion(ctx)
	if err != nil {
		return err
	}
	if _, err := a.c.imageAlias(ctx, alias); err != nil {
		return fmt.Errorf("LXD %s has no image alias %q: %w (build and import it with scripts/lxd-setup)", v, alias, err)
	}
	return nil
}

// CreateProfile makes a profile with these devices.
func (a Admin) CreateProfile(ctx context.Context, name, description string, devices map[string]map[string]string) error {
	body := map[string]any{"name": name, "description": description, "config": map[string]string{}, "devices": devices}
	_, err := a.c.json(ctx, http.MethodPost, "/1.0/profiles", nil, body, nil)
	return err
}

// DeleteProfile removes a profile; LXD refuses while an instance uses it.
func (a Admin) DeleteProfile(ctx context.Context, name string) error {
	_, err := a.c.json(ctx, http.MethodDelete, "/1.0/profiles/"+url.PathEscape(name), nil, nil, nil)
	if isNotFound(err) {
		return nil
	}
	return err
}

// Names lists every instance in the project, whoever owns it.
func (a Admin) Names(ctx context.Context) ([]string, error) {
	ins, err := a.c.listInstances(ctx)
	var out []string
	for _, in := range ins {
		out = append(out, in.Name)
	}
	return out, err
}

// CreateProject makes a project that shares the default project's images,
// profiles and storage volumes: a namespace for instance names (tests use
// one each, so nothing else on a shared daemon is seen or touched).
func (a Admin) CreateProject(ctx context.Context, name string) error {
	return a.c.createProject(ctx, name)
}

// DeleteProject force-deletes every instance in project name, then the
// project. Only for projects the caller made.
func (a Admin) DeleteProject(ctx context.Context, name string) error {
	pc := newClient(a.c.socket, name)
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
	return newClient(a.c.socket, "").deleteProject(ctx, name)
}

// Status is an instance's LXD status ("" if it is missing).
func (a Admin) Status(ctx context.Context, name string) string {
	in, err := a.c.getInstance(ctx, name)
	if err != nil {
		return ""
	}
	return in.Status
}

// Instance returns an instance's config and devices.
func (a Admin) Instance(ctx context.Context, name string) (map[string]string, map[string]map[string]string, error) {
	in, err := a.c.getInstance(ctx, name)
	return in.Config, in.Devices, err
}
