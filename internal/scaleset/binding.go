// Package scaleset serves pools that are GitHub runner scale sets, on
// GitHub's own client library (github.com/actions/scaleset). A listener per
// pool keeps the scale set's message session, long-polls it and turns its
// messages into the job events the controller already handles; machines of
// such pools get their single-use runner config from the scale set. No
// inbound connectivity is needed.
package scaleset

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	ghss "github.com/actions/scaleset"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/paddock-ci/paddock/internal/core"
)

// binding is one pool's handle on its scale set: the library client (which
// keeps the admin token fresh) and the scale set once found or created. The
// listener and the runner client share it.
type binding struct {
	m      *Manager
	poolID string

	mu      sync.Mutex
	client  *ghss.Client
	forgeAt time.Time // forge record version the client was built from
	set     *ghss.RunnerScaleSet
}

// configURL is the entity's web URL, which the library parses to tell the
// level (organization, repository or enterprise) and the API host.
func configURL(f core.Forge, ent core.Entity) (string, error) {
	web := f.WebURL
	if web == "" {
		return "", fmt.Errorf("forge %s has no web_url (scale sets are addressed by the entity's web URL)", f.Name)
	}
	u, err := url.Parse(web)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("forge %s: web_url %q is not an absolute URL", f.Name, web)
	}
	path := ent.Name
	if ent.Kind == core.EntityEnterprise {
		path = "enterprises/" + ent.Name
	}
	return strings.TrimSuffix(web, "/") + "/" + path, nil
}

func (m *Manager) newClient(f core.Forge, ent core.Entity, pool core.Pool) (*ghss.Client, error) {
	if f.Kind != "" && f.Kind != core.ForgeGitHub {
		return nil, fmt.Errorf("pool %s: scale sets exist only on GitHub (forge %s is %s)", pool.Name, f.Name, f.Kind)
	}
	cu, err := configURL(f, ent)
	if err != nil {
		return nil, err
	}
	info := ghss.SystemInfo{System: "paddock", Subsystem: "listener", Version: m.o.Version}
	// The library's retrying HTTP client logs every request through its own
	// logger unless given one: route it into Paddock's log.
	rc := retryablehttp.NewClient()
	rc.RetryMax, rc.RetryWaitMax = m.o.RetryMax, m.o.RetryWaitMax
	rc.Logger = m.log.With("pool", pool.Name, "subsystem", "scaleset-http")
	opts := []ghss.HTTPOption{ghss.WithLogger(m.log.With("pool", pool.Name)), ghss.WithRetryableHTTPClint(rc)}
	switch f.Credential.Kind {
	case core.CredentialPAT:
		return ghss.NewClientWithPersonalAccessToken(ghss.NewClientWithPersonalAccessTokenConfig{
			GitHubConfigURL: cu, PersonalAccessToken: f.Credential.Token, SystemInfo: info}, opts...)
	case core.CredentialApp:
		return ghss.NewClientWithGitHubApp(ghss.ClientWithGitHubAppConfig{GitHubConfigURL: cu,
			GitHubAppAuth: ghss.GitHubAppAuth{ClientID: strconv.FormatInt(f.Credential.AppID, 10),
				InstallationID: f.Credential.InstallationID, PrivateKey: f.Credential.PrivateKeyPEM},
			SystemInfo: info}, opts...)
	}
	return nil, fmt.Errorf("forge %s: credential kind %q cannot open a scale set", f.Name, f.Credential.Kind)
}

// resolve returns the library client and the pool's scale set, creating the
// scale set (name = the pool's first label) on first use. The client is
// rebuilt when the forge's record (URL, credential) changes.
func (b *binding) resolve(ctx context.Context) (*ghss.Client, *ghss.RunnerScaleSet, core.Pool, error) {
	pool, ent, f, err := b.m.load(ctx, b.poolID)
	if err != nil {
		return nil, nil, pool, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client == nil || !b.forgeAt.Equal(f.UpdatedAt) {
		c, err := b.m.newClient(f, ent, pool)
		if err != nil {
			return nil, nil, pool, err
		}
		b.client, b.forgeAt, b.set = c, f.UpdatedAt, nil
	}
	if b.set != nil && strings.EqualFold(b.set.Name, pool.ScaleSetName()) {
		return b.client, b.set, pool, nil
	}
	set, err := b.findOrCreate(ctx, pool)
	if err != nil {
		return nil, nil, pool, fmt.Errorf("pool %s: scale set %q: %w", pool.Name, pool.ScaleSetName(), err)
	}
	b.set = set
	return b.client, set, pool, nil
}

func (b *binding) findOrCreate(ctx context.Context, pool core.Pool) (*ghss.RunnerScaleSet, error) {
	groupName := pool.RunnerGroup
	if groupName == "" {
		groupName = ghss.DefaultRunnerGroup
	}
	group, err := b.client.GetRunnerGroupByName(ctx, groupName)
	if err != nil {
		return nil, fmt.Errorf("runner group %q: %w", groupName, err)
	}
	name := pool.ScaleSetName()
	if name == "" {
		return nil, errors.New("the pool has no label to name its scale set")
	}
	set, err := b.client.GetRunnerScaleSet(ctx, group.ID, name)
	if err != nil || set != nil {
		return set, err
	}
	var labels []ghss.Label
	for _, l := range pool.Labels {
		if !strings.EqualFold(l, "self-hosted") {
			labels = append(labels, ghss.Label{Name: l})
		}
	}
	b.m.log.Info("creating runner scale set", "pool", pool.Name, "name", name, "runner_group", group.Name)
	return b.client.CreateRunnerScaleSet(ctx, &ghss.RunnerScaleSet{Name: name, RunnerGroupID: group.ID,
		RunnerGroupName: group.Name, Labels: labels, RunnerSetting: ghss.RunnerSetting{DisableUpdate: true}})
}
