// Package testutil holds helpers shared by tests: waiting on a condition
// with a deadline instead of sleeping, so a slow machine makes a test slower,
// never wrong.
package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test (naming what it
// waited for) if limit passes first. cond is checked once more at the
// deadline, so a condition that became true during the last pause counts.
func Eventually(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	if !Within(limit, cond) {
		t.Fatalf("timed out after %s waiting for: %s", limit, what)
	}
}

// Within polls cond until it holds or limit passes, and reports whether it
// held. The pause between checks grows from 1 ms to 50 ms: fast when the
// condition is quick, light on a loaded machine when it is not.
func Within(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}
