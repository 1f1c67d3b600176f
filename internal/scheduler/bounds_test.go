package scheduler

import (
	"math"
	"testing"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/core"
)

// A pool row that escaped validation (written by an older version) must not
// make one decision plan a machine per unit of min_idle: the plan is bounded
// by the validated max_runners limit, and absurd values do not overflow.
func TestDecideBoundsHugeCounts(t *testing.T) {
	for _, n := range []int{200000, math.MaxInt} {
		p := mkPool("huge")
		p.MinIdle, p.MaxRunners, p.FreeTargetPercent = n, n, n
		d := Decide(Snapshot{Pools: []core.Pool{p}})
		if len(d.Creates) != check.MaxRunnersLimit {
			t.Errorf("min_idle=max_runners=%d: %d creates planned, want the bound %d", n, len(d.Creates), check.MaxRunnersLimit)
		}
	}
}
