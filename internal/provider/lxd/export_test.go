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
