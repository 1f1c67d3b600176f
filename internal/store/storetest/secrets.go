package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// testForgeSharedSecret: two forges of one kind never share a webhook
// secret, even when admins save them at the same moment (the check is part
// of the write, not a read before it).
func testForgeSharedSecret(t *testing.T, s store.Store) {
	forge := func(name string, kind core.ForgeKind, secret string) core.Forge {
		return core.Forge{Name: name, Kind: kind, WebhookSecret: secret,
			Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := forge(fmt.Sprintf("gh%d", i), core.ForgeGitHub, "same")
			errs[i] = s.CreateForge(ctx(t), &f)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var shared *store.SharedSecretError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &shared) && errors.Is(err, store.ErrConflict) && shared.Forge != "":
		default:
			t.Fatalf("create: %v, want nil or a SharedSecretError", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d forges with one webhook secret were stored, want 1", ok, n)
	}
	// Another kind may use it; an update may not take it; a forge may keep its own.
	gt := forge("gt", core.ForgeGitea, "same")
	if err := s.CreateForge(ctx(t), &gt); err != nil {
		t.Fatalf("same secret on another kind: %v", err)
	}
	other := forge("other", core.ForgeGitHub, "different")
	if err := s.CreateForge(ctx(t), &other); err != nil {
		t.Fatal(err)
	}
	other.WebhookSecret = "same"
	var shared *store.SharedSecretError
	if err := s.UpdateForge(ctx(t), &other); !errors.As(err, &shared) {
		t.Fatalf("update to a taken secret: %v", err)
	}
	if got, _ := s.GetForge(ctx(t), "other"); got.WebhookSecret != "different" {
		t.Fatalf("refused update stored secret %q", got.WebhookSecret)
	}
	other.WebhookSecret = "different"
	other.Name = "renamed"
	if err := s.UpdateForge(ctx(t), &other); err != nil {
		t.Fatalf("re-saving a forge with its own secret: %v", err)
	}
}
