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
