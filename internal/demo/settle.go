package demo

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
)

// applyWarm gives the standard pool (the first) Warm idle runners.
func applyWarm(o Options, cfg *config.Config) {
	if o.Warm > 0 && len(cfg.Pools) > 0 {
		cfg.Pools[0].MinIdle = o.Warm
		cfg.Pools[0].MaxRunners = max(cfg.Pools[0].MaxRunners, o.Warm)
	}
}

// quietFor is how long the forge must see no call from the manager before
// its start-up is deemed over.
const quietFor = time.Second

// settleMax bounds the wait for quiet.
const settleMax = 10 * time.Second

// managerCalls is the simulator's call count without its own control API
// and the scale-set long polls, which never pause.
func managerCalls(sim *forgesim.Sim) map[string]map[int]int {
	all := sim.Stats().APICalls
	maps.DeleteFunc(all, func(k string, _ map[int]int) bool {
		return strings.Contains(k, "/_sim/") || isLongPoll(k)
	})
	return all
}

// settle waits until every pool's min_idle runners are idle and the forge
// has seen no call for quietFor, and returns the calls made so far (the
// start-up's, which the summary leaves out of the per-job figures).
func settle(ctx context.Context, out io.Writer, sim *forgesim.Sim, st store.Store, cfg *config.Config) (map[string]map[int]int, error) {
	want := 0
	for _, p := range cfg.Pools {
		want += p.MinIdle
	}
	fmt.Fprintf(out, "waiting for %d warm runner(s) and the manager's start-up calls to finish\n", want)
	last, lastChange, began := managerCalls(sim), time.Now(), time.Now()
	for {
		live, err := st.ListInstances(ctx, store.InstanceFilter{Live: true})
		if err != nil {
			return nil, err
		}
		idle := 0
		for _, i := range live {
			if i.State == core.InstanceRunning && i.Runner == core.RunnerIdle {
				idle++
			}
			// A shared pool's warm machine waits unbound for a job (late binding).
			if i.State == core.InstanceRunning && waitingUnbound(i) {
				idle++
			}
		}
		now := managerCalls(sim)
		if !maps.EqualFunc(now, last, maps.Equal) {
			last, lastChange = now, time.Now()
		}
		// A manager that never goes quiet (a poll every second) is taken as
		// started after settleMax.
		if idle >= want && (time.Since(lastChange) >= quietFor || time.Since(began) >= settleMax) {
			return sim.Stats().APICalls, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("timed out waiting for %d warm runners (%d idle)", want, idle)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
