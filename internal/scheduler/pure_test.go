package scheduler

import (
	"bytes"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// Decide reads the caller's slices in place (pools already in name order are
// not copied), so it must never write to them: the controller reuses them.
func TestDecideLeavesSnapshotUnchanged(t *testing.T) {
	check := func(t interface{ Fatalf(string, ...any) }, s Snapshot) {
		before, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%v", err)
		}
		Decide(s)
		after, _ := json.Marshal(s)
		if !bytes.Equal(before, after) {
			t.Fatalf("Decide changed its snapshot:\nbefore %s\nafter  %s", before, after)
		}
	}
	check(t, Synthetic(40, 300, 300, now)) // pools in name order: the in-place path
	rapid.Check(t, func(rt *rapid.T) { check(rt, genSnapshot(rt)) })
}
