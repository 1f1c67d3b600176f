package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWithinWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	go func() {
		for i := 0; i < 5; i++ {
			time.Sleep(2 * time.Millisecond)
			n.Add(1)
		}
	}()
	if !Within(10*time.Second, func() bool { return n.Load() == 5 }) {
		t.Fatalf("condition not seen: n = %d", n.Load())
	}
}

func TestWithinGivesUpAtTheDeadline(t *testing.T) {
	start := time.Now()
	if Within(20*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported as holding")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("gave up after %s, before the 20ms deadline", d)
	}
}
