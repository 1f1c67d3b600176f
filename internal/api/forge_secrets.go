package api

import (
	"context"
	"crypto/subtle"

	"github.com/paddock-ci/paddock/internal/core"
)

// sharedSecret refuses a webhook secret another forge of the same kind
// already has: on /webhooks/<kind> the signature is how a delivery is matched
// to its forge (docs/forges.md). The message never shows the secret.
func (s *server) sharedSecret(ctx context.Context, f core.Forge) error {
	if f.WebhookSecret == "" {
		return nil
	}
	all, err := s.opts.Store.ListForges(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.ID != f.ID && o.Kind == f.Kind && o.WebhookSecret != "" &&
			subtle.ConstantTimeCompare([]byte(o.WebhookSecret), []byte(f.WebhookSecret)) == 1 {
			return conflict("forge %q already uses this webhook secret; give each %s forge its own secret, "+
				"so a delivery's signature says which forge sent it", o.Name, f.Kind)
		}
	}
	return nil
}
