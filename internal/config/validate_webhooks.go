package config

import "fmt"

// webhookSecrets refuses two forges of one kind with the same webhook secret.
// On /webhooks/<kind> a delivery's signature is how Paddock tells forges
// apart; with a shared secret it verifies for both, and the payload does not
// always say which forge sent it (docs/forges.md).
func (v *validator) webhookSecrets() {
	type seen struct {
		index int
		name  string
	}
	first := map[string]seen{}
	for i, f := range v.c.Forges {
		if f.WebhookSecret == "" {
			continue
		}
		key := string(f.Kind) + "\x00" + string(f.WebhookSecret)
		if prev, dup := first[key]; dup {
			v.p.at(fmt.Sprintf("forges[%d].webhook_secret", i),
				"same secret as forges[%d] (%s); give each %s forge its own webhook secret, so a delivery's signature says which forge sent it",
				prev.index, prev.name, f.Kind)
			continue
		}
		first[key] = seen{i, f.Name}
	}
}
