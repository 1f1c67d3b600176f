package scheduler

import (
	"flag"
	"os"
	"testing"
)

// TestMain raises rapid's default of 100 cases: the scheduler's interesting
// states (a retry next to an idle twin, spill-over at the edge of max_runners)
// need a few thousand random snapshots to turn up, which still run in well
// under a second. An explicit -rapid.checks wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit {
		if err := flag.Set("rapid.checks", "3000"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
