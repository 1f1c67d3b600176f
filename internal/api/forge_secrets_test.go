package api

import (
	"strings"
	"testing"
)

func TestSharedWebhookSecretRefused(t *testing.T) {
	h := newHarness(t, nil)
	pat := map[string]any{"kind": "pat", "token": "ghp_x"}
	h.must(201, "POST", "/api/v1/forges", map[string]any{"name": "one", "kind": "github", "webhook_secret": "s3cret", "credential": pat}, nil)
	h.wantError(409, "POST", "/api/v1/forges", map[string]any{
		"name": "two", "kind": "github", "api_url": "https://ghes.example/api/v3/", "webhook_secret": "s3cret", "credential": pat,
	}, `forge "one" already uses this webhook secret`, "its own secret")
	h.must(201, "POST", "/api/v1/forges", map[string]any{
		"name": "two", "kind": "github", "api_url": "https://ghes.example/api/v3/", "webhook_secret": "other", "credential": pat,
	}, nil)
	h.wantError(409, "PATCH", "/api/v1/forges/two", map[string]any{"webhook_secret": "s3cret"}, `forge "one"`)
	// Re-saving a forge with its own secret is no conflict with itself.
	h.must(200, "PATCH", "/api/v1/forges/one", map[string]any{"webhook_secret": "s3cret"}, nil)
	for _, b := range h.bodies {
		if strings.Contains(b, "s3cret") {
			t.Fatalf("secret echoed: %s", b)
		}
	}
}
