package lxd_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

// An image alias the daemon does not have: the instance carries a fault
// that names the alias and what to do, the pool is marked failing, and the
// creates back off (1 s, 2 s, 4 s ...) instead of hammering the daemon.
// Nothing is left in LXD.
func TestMissingImageFaultsTheInstanceWithoutRetryStorm(t *testing.T) {
	s := newStack(t, "pdk-no-such-image")
	s.queue("never-runs", "true")
	start := time.Now()
	waitFor(t, "an instance fault naming the missing alias", time.Minute, func() bool {
		for _, i := range s.instances() {
			if strings.Contains(i.Fault, `image alias "pdk-no-such-image"`) && strings.Contains(i.Fault, "scripts/lxd-setup") {
				return true
			}
		}
		return false
	})
	// Four failures in a row take at least 1+2+4 s of backoff between them.
	waitFor(t, "four failed creates in a row", 2*time.Minute, func() bool { return s.health().n >= 4 })
	h, calls, took := s.health(), int(s.prov.creates.Load()), time.Since(start)
	if !h.failing || !strings.Contains(h.last, "pdk-no-such-image") {
		t.Fatalf("pool health = %+v; want failing with the alias in the error", h)
	}
	if took < 7*time.Second {
		t.Errorf("%d failures in %s: the creates did not back off", h.n, took)
	}
	// One probe at a time while failing: at most one more create than
	// counted failures (the one that may be in flight now).
	if calls > h.n+1 {
		t.Errorf("%d provider creates for %d failures in %s: a retry storm", calls, h.n, took)
	}
	if names, err := lxd.NewAdmin(socket, s.proj).Names(context.Background()); err != nil || len(names) != 0 {
		t.Errorf("LXD instances after failed creates: %v, %v", names, err)
	}
	t.Logf("%d creates, %d failures in %s; last error: %s", calls, h.n, took.Round(time.Second), h.last)
}

// The daemon goes away (its socket disappears, as when it stops): the pool
// is marked failing with the reason; when it is back, the pool recovers and
// the job runs in a container, which is deleted afterwards.
func TestDaemonDownMarksPoolFailingThenRecovers(t *testing.T) {
	s := newStack(t, image)
	if err := os.Remove(s.link); err != nil {
		t.Fatal(err)
	}
	s.queue("after-outage", "true")
	waitFor(t, "the pool marked failing because the daemon is unreachable", time.Minute, func() bool {
		h := s.health()
		return h.failing && strings.Contains(h.last, "is the daemon running")
	})
	t.Logf("while down: %+v", s.health())
	if err := os.Symlink(socket, s.link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to complete once the daemon is back", 4*time.Minute, func() bool { return s.completed() == 1 })
	waitFor(t, "the pool healthy again", time.Minute, func() bool { return !s.health().failing })
	waitFor(t, "the container deleted", 2*time.Minute, func() bool {
		names, err := lxd.NewAdmin(socket, s.proj).Names(context.Background())
		return err == nil && len(names) == 0
	})
}
