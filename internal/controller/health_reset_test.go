package controller_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// An operator who fixes a failing pool's image gets the next create at once,
// not when the backoff earned by the old image runs out.
func TestEditingAFailingPoolsProviderSettingsResetsItsBackoff(t *testing.T) {
	h := newHarness(t, []core.Pool{pool("linux", "linux")})
	broken := errors.New("image ubuntu:2404 not found")
	h.prov.mu.Lock()
	h.prov.failCreate = func(string, int) error { return broken }
	h.prov.mu.Unlock()
	pools, _ := h.st.ListPools(h.ctx)
	p := pools[0]
	h.event("queued", 51, []string{"linux"}, "")
	h.eventually("pool failing for the third time", func() bool { return h.ctl.PoolHealth()[p.ID].Failures >= 3 })
	next := h.ctl.PoolHealth()[p.ID].NextCreateAt
	before, _ := h.prov.counts()

	p.Image = "ubuntu:24.04"
	if err := h.st.UpdatePool(h.ctx, &p); err != nil {
		t.Fatal(err)
	}
	h.ctl.Notify()
	for {
		if c, _ := h.prov.counts(); c > before {
			break
		}
		if time.Now().After(next.Add(-time.Second)) {
			t.Fatalf("no create since the pool's image was fixed; the old backoff (until %s) still holds", next.Format(time.RFC3339Nano))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The new image fails too here: its backoff starts over.
	h.eventually("backoff restarted", func() bool {
		hl, ok := h.ctl.PoolHealth()[p.ID]
		return ok && hl.Failures == 1
	})

}
