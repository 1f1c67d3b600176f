package httplimit

import (
	"testing"
	"time"
)

func TestAuthFailures(t *testing.T) {
	now := time.Unix(1e9, 0)
	a := NewAuthFailures(3, 5)
	a.now = func() time.Time { return now }
	for i := range 3 {
		if _, blocked := a.Blocked("10.0.0.1"); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		a.Fail("10.0.0.1")
	}
	wait, blocked := a.Blocked("10.0.0.1")
	if !blocked || wait != 20*time.Second {
		t.Fatalf("after the burst: blocked %v, wait %s (want 20s: 3 per minute)", blocked, wait)
	}
	if _, blocked := a.Blocked("10.0.0.2"); blocked {
		t.Fatal("another address is blocked by the first one's failures")
	}
	a.Fail("10.0.0.2")
	a.Fail("10.0.0.3")
	if _, blocked := a.Blocked("10.0.0.4"); !blocked {
		t.Fatal("total limit of 5 failures not applied")
	}
	now = now.Add(20 * time.Second)
	if _, blocked := a.Blocked("10.0.0.1"); blocked {
		t.Fatal("still blocked once the allowance refilled")
	}
}
