package demo

import (
	"fmt"
	"io"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// waitingUnbound: a shared pool's warm machine waiting for a job (late
// binding) — warm capacity like an idle runner.
func waitingUnbound(i core.Instance) bool {
	return i.Runner == core.RunnerInstalling && i.Unbound && i.BoundJobID == 0
}

// lateBoundReport prints, for the jobs that ran on warm machines bound late
// (--tenants with --warm), job queued → running p50/p99 (the runner came
// online and took the job within that) and the JIT configs the forge minted
// per machine that got one: one per assignment is the target.
func lateBoundReport(w io.Writer, sim *forgesim.Sim, insts []core.Instance) {
	bound := map[string]bool{}
	minted := 0
	for _, in := range insts {
		if in.BoundJobID != 0 {
			bound[in.Name] = true
		}
		if in.RunnerID != 0 {
			minted++
		}
	}
	var waits []time.Duration
	for _, j := range sim.Jobs() {
		if bound[j.RunnerName] && !j.StartedAt.IsZero() {
			waits = append(waits, j.StartedAt.Sub(j.CreatedAt))
		}
	}
	jit := sim.Stats().JITConfigsMinted
	fmt.Fprintf(w, "\nLate binding: %d warm machines bound to a job when it was queued; %d of their jobs ran on them\n", len(bound), len(waits))
	if len(waits) > 0 {
		fmt.Fprintf(w, "  job queued → running on a late-bound machine: p50 %.2f s, p99 %.2f s\n",
			Percentile(waits, 50).Seconds(), Percentile(waits, 99).Seconds())
	}
	if minted > 0 {
		fmt.Fprintf(w, "  JIT configs minted: %d for %d machines that got one (%.2f forge mint calls per machine)\n",
			jit, minted, float64(jit)/float64(minted))
	}
}
